//! The merchant's products a lane offers beside its payments: MobilePay Invoice and MobilePay
//! Subscriptions, each present when the lane's settings name it. Both payment backends carry
//! one bundle, so a lane's invoices and sign-ups work alike on PoS V10 and ePayment lanes.

use super::invoice_v1::InvoiceBackend;
use super::subscriptions_v1::SubscriptionsBackend;

#[derive(Clone, Debug, Default)]
pub struct CounterProducts {
    /// The lane's invoices (`invoice = { … }` in its settings).
    pub invoicing: Option<InvoiceBackend>,
    /// The lane's sign-ups to agreements (`signup = { … }` in its settings).
    pub agreements: Option<SubscriptionsBackend>,
}
