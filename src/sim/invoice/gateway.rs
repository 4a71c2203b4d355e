//! The Invoice API behind the shared [gateway](crate::sim::gateway): the Invoice fixtures'
//! apps, and scope `invoice` on the merchant's token.

use crate::sim::fixtures::InvoiceFixtures;
use crate::sim::gateway::{self, Refused};
use axum::http::HeaderMap;

const SCOPE: &str = "invoice";

/// The app pair alone: what the sandbox's user simulation API needs.
pub fn check_app(fixtures: &InvoiceFixtures, headers: &HeaderMap) -> Result<(), Refused> {
    gateway::check_app(&fixtures.gateway_apps, headers)
}

/// The app pair and the bearer token; the merchant (`MerchantId`) the token was issued for.
pub fn merchant(fixtures: &InvoiceFixtures, headers: &HeaderMap, now_secs: i64) -> Result<String, Refused> {
    gateway::merchant(&fixtures.gateway_apps, headers, now_secs, SCOPE)
}
