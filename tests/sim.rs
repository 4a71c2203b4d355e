//! Black-box tests of `mposd sim`, the MobilePay PoS V10 and ePayment simulator (the `ep_`
//! files are ePayment's, the `oidc_` files the Invoice and Subscriptions consent provider's,
//! the `inv_` files the Invoice API's, the `subs_` files the Subscriptions API's): every request goes over
//! loopback HTTP(S) to a running simulator and every answer is checked as raw JSON, so exact
//! field names, camelCase, missing-versus-null and error codes are part of what is tested.

#[path = "sim/auth.rs"]
mod auth;
#[path = "sim/binary.rs"]
mod binary;
#[path = "sim/common.rs"]
mod common;
#[path = "sim/control.rs"]
mod control;
#[path = "sim/ep_auth.rs"]
mod ep_auth;
#[path = "sim/ep_checkin.rs"]
mod ep_checkin;
#[path = "sim/ep_create.rs"]
mod ep_create;
#[path = "sim/ep_customer.rs"]
mod ep_customer;
#[path = "sim/ep_idempotency.rs"]
mod ep_idempotency;
#[path = "sim/ep_lifecycle.rs"]
mod ep_lifecycle;
#[path = "sim/ep_receiver.rs"]
mod ep_receiver;
#[path = "sim/ep_support.rs"]
mod ep_support;
#[path = "sim/ep_timers.rs"]
mod ep_timers;
#[path = "sim/ep_webhooks.rs"]
mod ep_webhooks;
#[path = "sim/faults.rs"]
mod faults;
#[path = "sim/headers.rs"]
mod headers;
#[path = "sim/idempotency.rs"]
mod idempotency;
#[path = "sim/inv_create.rs"]
mod inv_create;
#[path = "sim/inv_faults.rs"]
mod inv_faults;
#[path = "sim/inv_gateway.rs"]
mod inv_gateway;
#[path = "sim/inv_lifecycle.rs"]
mod inv_lifecycle;
#[path = "sim/inv_support.rs"]
mod inv_support;
#[path = "sim/oidc_authorize.rs"]
mod oidc_authorize;
#[path = "sim/oidc_support.rs"]
mod oidc_support;
#[path = "sim/oidc_token.rs"]
mod oidc_token;
#[path = "sim/ownership.rs"]
mod ownership;
#[path = "sim/payments.rs"]
mod payments;
#[path = "sim/pointofsales.rs"]
mod pointofsales;
#[path = "sim/refunds.rs"]
mod refunds;
#[path = "sim/robustness.rs"]
mod robustness;
#[path = "sim/stores.rs"]
mod stores;
#[path = "sim/subs_agreements.rs"]
mod subs_agreements;
#[path = "sim/subs_faults.rs"]
mod subs_faults;
#[path = "sim/subs_gateway.rs"]
mod subs_gateway;
#[path = "sim/subs_lifecycle.rs"]
mod subs_lifecycle;
#[path = "sim/subs_oneoffs.rs"]
mod subs_oneoffs;
#[path = "sim/subs_support.rs"]
mod subs_support;
#[path = "sim/timers.rs"]
mod timers;
#[path = "sim/users.rs"]
mod users;
