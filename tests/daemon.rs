//! The daemon as an integrator runs it: the real `mposd run` and `mposd check-config`
//! processes, a real configuration file, a real store on disk, the simulator over loopback
//! HTTP and the virtual cash register over TCP.

#[path = "daemon/check_config.rs"]
mod check_config;
#[path = "daemon/consent.rs"]
mod consent;
#[path = "daemon/damaged_journal.rs"]
mod damaged_journal;
#[path = "daemon/demo.rs"]
mod demo;
#[path = "daemon/epayment.rs"]
mod epayment;
#[path = "daemon/epayment_sticker.rs"]
mod epayment_sticker;
#[path = "daemon/epayment_webhooks.rs"]
mod epayment_webhooks;
#[path = "daemon/in_store.rs"]
mod in_store;
#[path = "daemon/invoices.rs"]
mod invoices;
#[path = "daemon/kept_journal.rs"]
mod kept_journal;
#[path = "daemon/lanes.rs"]
mod lanes;
#[path = "daemon/offline_start.rs"]
mod offline_start;
#[path = "daemon/point_of_sale.rs"]
mod point_of_sale;
#[path = "daemon/run.rs"]
mod run;
#[path = "daemon/signups.rs"]
mod signups;
#[allow(dead_code)] // shared with the engine tests; these tests use part of it
#[path = "shared/sim_ep.rs"]
mod sim_ep;
#[allow(dead_code)] // shared with the engine tests and benchmarks; these tests use part of it
#[path = "shared/sim_pos.rs"]
mod sim_pos;
#[path = "daemon/state_dir.rs"]
mod state_dir;
#[path = "shared/store_copy.rs"]
mod store_copy;
#[path = "daemon/support.rs"]
mod support;
#[path = "daemon/systemd.rs"]
mod systemd;
