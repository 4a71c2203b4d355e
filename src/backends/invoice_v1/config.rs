//! What the Invoice client of one merchant needs besides the consent and the API gateway's
//! app pair: where the API is, the merchant's VAT number, and how long to wait.

use crate::backends::http::{check_url, HttpConfigError, RetryPolicy, Timeouts};
use crate::money::Currency;
use std::path::PathBuf;
use std::time::Duration;

/// The Invoice API's path below the API host.
pub const BASE_PATH: &str = "invoice-restapi";

/// No published limits: long enough for a slow mobile uplink at a market stall, short enough
/// that a cashier is not kept waiting for a dead connection.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    write: Duration::from_secs(15),
    read: Duration::from_secs(10),
};

/// One merchant's Invoice API settings.
#[derive(Clone, Debug)]
pub struct InvoiceConfig {
    /// The API host's base URL ([`PRODUCTION`](crate::backends::consent_api::PRODUCTION),
    /// [`SANDBOX`](crate::backends::consent_api::SANDBOX), or e.g. `mposd sim`); the
    /// Invoice API is below it at [`BASE_PATH`].
    pub api: String,
    /// The merchant's VAT number (`DK12345678`): MobilePay invoices in its country's currency.
    pub vat: String,
    pub timeouts: Timeouts,
    /// Repeats of reads after no answer or a 5xx. Creates and cancels are sent once: the
    /// engine decides what a lost answer means for them.
    pub retry: RetryPolicy,
    /// Extra certificates to trust (PEM), e.g. a corporate proxy or the simulator's CA.
    pub extra_ca_file: Option<PathBuf>,
}

impl InvoiceConfig {
    pub fn new(api: &str, vat: &str) -> InvoiceConfig {
        InvoiceConfig {
            api: api.trim_end_matches('/').to_string(),
            vat: vat.to_string(),
            timeouts: DEFAULT_TIMEOUTS,
            retry: RetryPolicy::default(),
            extra_ca_file: None,
        }
    }

    pub fn validate(&self) -> Result<(), HttpConfigError> {
        check_url("the Invoice API base URL", &self.api)
    }

    /// The currency of the merchant's invoices.
    pub fn currency(&self) -> Currency {
        merchant_currency(&self.vat)
    }
}

/// The currency MobilePay invoices the merchant `vat` in: its own country's (DKK for a Danish
/// merchant, EUR for a Finnish one), whatever a request says.
pub fn merchant_currency(vat: &str) -> Currency {
    if vat.starts_with("FI") {
        Currency::EUR
    } else {
        Currency::DKK
    }
}
