//! The cash-register (ECR) side of mposd: the native framed protocol and its transports.
//!
//! Layers, each replaceable on its own so that other protocols (ZVT) can sit beside this one:
//! - [`frame`]: bytes on the line ⇄ frames (markers, length, sequence number, CRC-32);
//! - [`link`]: frames ⇄ reliably delivered messages (ACK/NAK, retransmission, duplicates);
//! - [`message`]: message bodies ⇄ typed commands, replies and events (JSON).
//!
//! The protocol is specified for ECR vendors in docs/ecr-protocol.md.

pub mod frame;
pub mod link;
pub mod message;
