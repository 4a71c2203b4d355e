//! The payment engine's interface: the one surface the cash-register protocol, the customer
//! display and the daemon use.
//!
//! A caller sends a [`Command`] under a [`CommandId`] it chose itself. The id is the key of the
//! engine's journal: sending the same id again never starts a second payment; it returns the
//! stored [`Outcome`] or joins the flow that is still running, and [`EngineHandle::query`]
//! answers for any past command, also after a crash or power cut.
//!
//! While a command runs, its lane (one MobilePay point of sale) emits [`LaneEvent`]s so that a
//! cashier and a customer can watch progress. Every command ends with exactly one final
//! [`EventKind::Finished`] event carrying its outcome.
//!
//! Everything here is plain data with serde support, so the same types are stored in the
//! journal and can be shown or forwarded by any front end.

mod command;
mod event;
mod handle;
mod outcome;

pub use command::*;
pub use event::*;
pub use handle::*;
pub use outcome::*;
