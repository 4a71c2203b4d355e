//! The Vipps MobilePay ePayment API, the successor of PoS V10 for payments at a till.
//!
//! So far only its wire model lives here, shared by the simulator (`mposd sim`) and the
//! production client that will use it.

pub mod model;
pub mod qr;
pub mod webhooks;
