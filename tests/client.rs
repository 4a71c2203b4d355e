//! The MobilePay PoS V10 client, token manager and PoS onboarding, the ePayment client, and
//! the MobilePay Invoice and Subscriptions clients against the simulator, over real HTTP on
//! loopback (and one suite over HTTPS with the simulator's CA).

mod client {
    pub mod support;

    mod canary;
    mod endpoints;
    mod epayment;
    mod epayment_retries;
    mod epayment_support;
    mod invoice;
    mod invoice_auth;
    mod invoice_errors;
    mod invoice_support;
    mod onboarding;
    mod polling;
    mod retries;
    mod secrets;
    mod subscriptions;
    mod subscriptions_auth;
    mod subscriptions_faults;
    mod subscriptions_support;
    mod tls;
    mod tokens;
}
