//! The MobilePay client, token manager and PoS onboarding against the simulator, over real
//! HTTP on loopback (and one suite over HTTPS with the simulator's CA).

mod client {
    pub mod support;

    mod canary;
    mod endpoints;
    mod onboarding;
    mod polling;
    mod retries;
    mod secrets;
    mod tls;
    mod tokens;
}
