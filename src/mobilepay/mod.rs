//! MobilePay PoS V10: the wire model shared by our client and our simulator, and the input
//! formats MobilePay validates.

pub mod formats;
pub mod model;
