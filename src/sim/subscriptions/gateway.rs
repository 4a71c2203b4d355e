//! The Subscriptions API behind the shared [gateway](crate::sim::gateway): the Subscriptions
//! fixtures' apps, and scope `subscriptions` on the merchant's token (§3.1). A token of a
//! consent without that scope gets the same vague 401 as a bad token.

use super::book::Book;
use crate::sim::context::SimContext;
use crate::sim::gateway;
use axum::{
    http::HeaderMap,
    response::{IntoResponse, Response},
};

const SCOPE: &str = "subscriptions";

/// The merchant a call acts for, once the gateway let it through.
pub fn merchant(sim: &SimContext, headers: &HeaderMap) -> Result<String, Box<Response>> {
    sim.with_subscriptions(|book, now| {
        gateway::merchant(&book.fixtures().gateway_apps, headers, now / 1000, SCOPE)
    })
    .map_err(|refused| Box::new(refused.into_response()))
}

/// The app pair alone, for the sandbox's user simulation.
pub fn check_app(book: &Book, headers: &HeaderMap) -> Result<(), Box<Response>> {
    gateway::check_app(&book.fixtures().gateway_apps, headers)
        .map_err(|refused| Box::new(refused.into_response()))
}
