//! The cash-register (ECR) side of mposd: the native framed protocol and its transports.
//!
//! Layers, each replaceable on its own so that other protocols (ZVT) can sit beside this one:
//! - [`frame`]: bytes on the line ⇄ frames (markers, length, sequence number, CRC-32);
//! - [`link`]: frames ⇄ reliably delivered messages (ACK/NAK, retransmission, duplicates);
//! - [`message`]: message bodies ⇄ typed commands, replies and events (JSON);
//! - [`session`]: messages ⇄ the payment engine's commands, outcomes and events.
//!
//! Transports carry the bytes: [`serial`] (reopened when the device goes away) and [`tcp`];
//! [`connection`] runs a link over one open stream of either; [`lane`] ties a session and its
//! link to whichever connection is current, one per lane.
//!
//! The protocol is specified for ECR vendors in docs/ecr-protocol.md.

pub mod cli;
pub mod config;
pub mod connection;
pub mod frame;
mod in_store;
pub mod lane;
pub mod link;
pub mod message;
pub mod register;
pub mod serial;
pub mod session;
pub mod tcp;
