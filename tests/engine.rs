//! The payment engine against the MobilePay simulator over loopback HTTP, with its journal in
//! real sled databases on disk.

#[path = "engine/background.rs"]
mod background;
#[path = "engine/chaos.rs"]
mod chaos;
#[path = "engine/epayment.rs"]
mod epayment;
#[path = "engine/flows.rs"]
mod flows;
#[path = "engine/nudge.rs"]
mod nudge;
#[path = "engine/point_of_sale.rs"]
mod point_of_sale;
#[path = "engine/recovery.rs"]
mod recovery;
#[allow(dead_code)] // shared with the torture tests and benchmarks; these tests use part of it
#[path = "shared/sim_ep.rs"]
mod sim_ep;
#[allow(dead_code)] // shared with the torture tests and benchmarks; these tests use part of it
#[path = "shared/sim_pos.rs"]
mod sim_pos;
#[path = "shared/store_copy.rs"]
mod store_copy;
#[path = "engine/support.rs"]
mod support;
#[allow(dead_code)] // shared with the torture tests; these tests use part of it
#[path = "shared/truth.rs"]
mod truth;
#[path = "engine/upgrade.rs"]
mod upgrade;
