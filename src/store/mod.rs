//! The on-disk store: one sled database per daemon, with durability points that really reach
//! the disk.

mod durable;

pub use durable::{is_damage, Db, StoreInUse};
