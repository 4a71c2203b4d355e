//! The Invoice API's wire types, as far as a counter uses them (reference §2.2–§2.11).
//!
//! Requests are sent in the documentation's PascalCase. Answers are read in PascalCase and,
//! where the OpenAPI description differs, its camelCase too (the server matched names
//! case-insensitively); error bodies are snake_case. Fields a counter does not need are not
//! read, so an answer with more is still understood.

use crate::money::MajorAmount;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST …/invoices` (InvoiceDirect) and `POST …/invoices/link` (InvoiceLink).
///
/// A struct, not a map: its fields are written in one fixed order, so the same invoice is
/// always the same bytes (MobilePay's duplicate check is what makes a repeated create safe).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvoiceRequest {
    pub invoice_issuer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_alias: Option<ConsumerAlias>,
    pub total_amount: MajorAmount,
    /// Left out when the cash register sent no lines, and so no VAT rates.
    #[serde(rename = "TotalVATAmount", skip_serializing_if = "Option::is_none")]
    pub total_vat_amount: Option<MajorAmount>,
    pub invoice_number: String,
    pub payment_reference: String,
    pub issue_date: String,
    pub due_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub invoice_articles: Vec<Article>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerAlias {
    /// `+`, country code and number (`+4512345678`).
    pub alias: String,
    /// Always `Phone`, the only kind there is.
    pub alias_type: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Article {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_number: Option<String>,
    pub article_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    pub total_price_including_vat: MajorAmount,
    /// In percent (`25`, `12.5`); left out for the one line made of a whole invoice sent
    /// without lines.
    #[serde(rename = "VATRate", skip_serializing_if = "Option::is_none")]
    pub vat_rate: Option<MajorAmount>,
}

/// `GET /api/v1/merchants/me`.
#[derive(Clone, Debug, Deserialize)]
pub struct MerchantMe {
    #[serde(rename = "MerchantId", alias = "merchantId")]
    pub merchant_id: String,
}

/// `GET …/invoiceissuers`.
#[derive(Clone, Debug, Deserialize)]
pub struct IssuerList {
    #[serde(rename = "InvoiceIssuers", alias = "invoiceIssuers", default)]
    pub invoice_issuers: Vec<Issuer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Issuer {
    #[serde(rename = "Id", alias = "id")]
    pub id: String,
    #[serde(rename = "Name", alias = "name", default)]
    pub name: Option<String>,
    /// `pending`, `enabled` or `disabled` (the specification's example has `null`).
    #[serde(rename = "Status", alias = "status", default)]
    pub status: Option<String>,
}

/// The answer to a create.
#[derive(Clone, Debug, Deserialize)]
pub struct Created {
    #[serde(rename = "InvoiceId", alias = "invoiceId")]
    pub invoice_id: String,
    /// An InvoiceLink's links: the one with `Rel` `user-redirect` is what the customer opens.
    #[serde(rename = "Links", alias = "links", default)]
    pub links: Vec<Link>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Link {
    #[serde(rename = "Rel", alias = "rel")]
    pub rel: String,
    #[serde(rename = "Href", alias = "href")]
    pub href: String,
}

/// `GET …/invoices/{invoiceId}`: the details, of which a counter needs the state.
#[derive(Clone, Debug, Deserialize)]
pub struct Details {
    #[serde(rename = "Status", alias = "status")]
    pub status: String,
    /// The day a scheduled (`accepted`) invoice will be paid; a date or a timestamp.
    #[serde(rename = "PaymentDate", alias = "paymentDate", default)]
    pub payment_date: Option<String>,
}

/// The error body: `{correlation_id, error, error_code, error_description, error_context}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `DomainError`, `InputError` or `ServerError`.
    #[serde(default)]
    pub error: Option<String>,
    /// A string, or `null` for rules without a number.
    #[serde(default)]
    pub error_code: Option<Value>,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl ErrorBody {
    /// The numbered code (`"10101"`), given as a string or a number.
    pub fn code(&self) -> Option<String> {
        match self.error_code.as_ref()? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}
