//! Black-box tests of the cash-register protocol: the documented examples, the link layer
//! over real pseudo-terminals, and the protocol's session against the payment engine.

#[path = "ecr/doc_examples.rs"]
mod doc_examples;
#[path = "ecr/end_to_end.rs"]
mod end_to_end;
#[allow(dead_code)]
#[path = "engine/support.rs"]
mod engine_support;
#[path = "ecr/fuzz_props.rs"]
mod fuzz_props;
#[path = "ecr/lane_news.rs"]
mod lane_news;
#[path = "ecr/noisy_line.rs"]
mod noisy_line;
#[path = "ecr/session.rs"]
mod session;
#[allow(dead_code)]
#[path = "shared/sim_pos.rs"]
mod sim_pos;
#[path = "ecr/stopping.rs"]
mod stopping;
#[path = "ecr/support.rs"]
mod support;
#[path = "ecr/transports.rs"]
mod transports;
