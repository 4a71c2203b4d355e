//! The on-disk store: one sled database per daemon, with durability points that really reach
//! the disk.

mod durable;
pub mod in_flight;
pub mod installation;
pub mod mark;
pub mod sidecar;

pub use durable::{is_damage, Db, Opened, StoreInUse};
