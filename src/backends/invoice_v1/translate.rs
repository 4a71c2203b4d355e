//! The Invoice API in the engine's words, without I/O: a [`NewInvoice`] into the create
//! request, an invoice's `Status` into an [`InvoiceState`], error answers into
//! [`BackendError`]s and [`Refusal`]s (by status and `error_code`, never by wording), and the
//! choice of the issuer to send under.
//!
//! Choices where the reference is silent:
//! - The codes documented as "MobilePay user not found" (`10101`, `10103`, `10304`–`10306`)
//!   are [`Refusal::RecipientUnknown`]; both "Invoice already exists" codes (`10104` for an
//!   InvoiceDirect, `10301` for an InvoiceLink) are [`Refusal::AlreadyExists`].
//! - An issuer not found or not enabled (`10202`, `10303`) and "merchant not found" (`10302`)
//!   are [`Refusal::NotSetUp`]: the merchant's Invoice product needs a look, not the request.
//! - A 409 without a code on a cancel (the invoice is cancelled, rejected or expired already)
//!   is [`Refusal::NotCancellable`]; elsewhere it is [`Refusal::StateConflict`].
//! - A gateway that refuses the token even after a refresh, and a consent that cannot give a
//!   token (revoked, never given), are [`BackendError::Unauthorized`]; a token endpoint that
//!   cannot be reached is a [`BackendError::Server`] failure: nothing was sent.

use super::client::endpoints;
use super::error::InvoiceError;
use super::model::{Article, ConsumerAlias, Details, InvoiceRequest, Issuer};
use crate::consent::driver::RefreshError;
use crate::engine::backend::{BackendError, OrderLine, Refusal};
use crate::engine::invoicing::{InvoiceDelivery, InvoiceState, NewInvoice};
use crate::money::{MajorAmount, Minor};
use chrono::{DateTime, NaiveDate};

/// The Invoice `error_code`s the translation names (reference §2.11).
pub mod codes {
    pub const USER_NOT_FOUND: [&str; 5] = ["10101", "10103", "10304", "10305", "10306"];
    pub const USER_NOT_AVAILABLE: &str = "10102";
    pub const ALREADY_EXISTS: [&str; 2] = ["10104", "10301"];
    pub const DAILY_LIMIT: &str = "10314";
    pub const BAD_DATES: [&str; 3] = ["10310", "10311", "10312"];
    pub const NOT_SET_UP: [&str; 3] = ["10202", "10303", "10302"];
    pub const BAD_AMOUNT: [&str; 2] = ["10008", "10201"];
    pub const ALREADY_PAID: &str = "10504";
}

/// VAT rates are given in hundredths of a percent: 10000 is 100 %.
const RATE_SCALE: i64 = 10_000;

/// The create request for `invoice`, sent under `issuer`. Everything in it comes from
/// `invoice` and `issuer` alone (no clock, no random id), so a repeated create is the same
/// request, which MobilePay's duplicate check refuses instead of pushing a second invoice.
pub fn request(invoice: &NewInvoice, issuer: &str) -> InvoiceRequest {
    let vat: i64 = invoice.lines.iter().map(line_vat).sum();
    InvoiceRequest {
        invoice_issuer: issuer.to_string(),
        consumer_alias: match &invoice.delivery {
            InvoiceDelivery::Link => None,
            InvoiceDelivery::Phone { number } => Some(ConsumerAlias {
                alias: format!("+{number}"),
                alias_type: "Phone",
            }),
        },
        total_amount: MajorAmount::from_minor(invoice.amount),
        total_vat_amount: MajorAmount::from_minor(Minor(vat)),
        // The engine finds a create whose answer was lost by this number: sent as it is.
        invoice_number: invoice.reference.clone(),
        payment_reference: invoice.order_id.clone(),
        issue_date: day(invoice.issue_date),
        due_date: day(invoice.due_date),
        comment: invoice.description.clone(),
        invoice_articles: invoice.lines.iter().map(article).collect(),
    }
}

/// The request's bytes. Serialising a struct of strings and numbers cannot fail.
pub fn body(request: &InvoiceRequest) -> Vec<u8> {
    serde_json::to_vec(request).unwrap_or_default()
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn article(line: &OrderLine) -> Article {
    Article {
        article_number: line.id.clone(),
        article_description: line.name.clone(),
        quantity: line.quantity,
        total_price_including_vat: MajorAmount::from_minor(line.total),
        // Hundredths of a percent read as a percent exactly as minor units read as major
        // units: 2500 is 25, 1250 is 12.5.
        vat_rate: MajorAmount::from_minor(Minor(i64::from(line.vat_rate))),
    }
}

/// The VAT in a line's total (which includes it), rounded to the nearest minor unit the way
/// the receipts in the app round it, so that net and VAT add up to the total.
fn line_vat(line: &OrderLine) -> i64 {
    let total = line.total.0;
    let rate = i64::from(line.vat_rate);
    let excluding = (total * RATE_SCALE + (RATE_SCALE + rate) / 2) / (RATE_SCALE + rate);
    total - excluding
}

/// An invoice's state from its details. `Status` is compared case-insensitively: MobilePay's
/// examples wrote it in several casings.
pub fn state(details: &Details) -> InvoiceState {
    match details.status.trim().to_ascii_lowercase().as_str() {
        "created" => InvoiceState::Issued,
        "accepted" => InvoiceState::Scheduled {
            payment_date: details.payment_date.as_deref().and_then(date),
        },
        "paid" => InvoiceState::Paid,
        "rejected" => InvoiceState::Rejected,
        "expired" => InvoiceState::Expired,
        "canceled" | "cancelled" => InvoiceState::Cancelled,
        _ => InvoiceState::Unrecognised(details.status.clone()),
    }
}

/// `YYYY-MM-DD`, or a timestamp whose date as written counts; anything else is unknown.
fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|d| d.date_naive()))
        .or_else(|| {
            text.get(..10)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        })
}

/// The issuer to send invoices under when none is configured: the merchant's only enabled one.
/// None, or several, is a setting to make, and the message says which issuers there are.
pub fn only_enabled_issuer(issuers: &[Issuer]) -> Result<String, String> {
    let enabled: Vec<&Issuer> = issuers
        .iter()
        .filter(|i| {
            i.status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
        })
        .collect();
    let list = |of: &[&Issuer]| {
        of.iter()
            .map(|i| match &i.name {
                Some(name) => format!("{} ({name})", i.id),
                None => i.id.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match enabled.as_slice() {
        [one] => Ok(one.id.clone()),
        [] if issuers.is_empty() => {
            Err("the merchant has no invoice issuer: create one in the MobilePay portal".into())
        }
        [] => Err(format!(
            "none of the merchant's invoice issuers is enabled: {}",
            list(&issuers.iter().collect::<Vec<_>>())
        )),
        several => Err(format!(
            "the merchant has several enabled invoice issuers; choose one with issuer = \"…\" in the lane's invoice setting: {}",
            list(several)
        )),
    }
}

/// A client error in the engine's terms. `detail` keeps the API's status, code and wording.
pub fn error(error: InvoiceError) -> BackendError {
    match error {
        InvoiceError::Refused {
            endpoint,
            status,
            problem,
        } => {
            let detail = format!("HTTP {status}, {problem}");
            let code = problem.code();
            let reason = match (code.as_deref().and_then(refusal_of_code), status) {
                (Some(reason), _) => reason,
                (None, 404) => return BackendError::NotFound,
                (None, 403) => return BackendError::Forbidden { detail },
                (None, 409) if code.is_none() && endpoint == endpoints::CANCEL => Refusal::NotCancellable,
                (None, 409) => Refusal::StateConflict,
                (None, _) => Refusal::Invalid,
            };
            BackendError::Refused { reason, detail }
        }
        InvoiceError::Unauthorized { .. } => BackendError::Unauthorized,
        InvoiceError::Server { status, problem, .. } => BackendError::Server {
            detail: format!("HTTP {status}, {problem}"),
        },
        InvoiceError::NoAnswer { .. } | InvoiceError::InvalidAnswer { .. } => BackendError::NoAnswer,
        InvoiceError::Token(RefreshError::Unavailable(reason)) => BackendError::Server {
            detail: format!("no access token: MobilePay's token endpoint cannot be reached: {reason}"),
        },
        InvoiceError::Token(RefreshError::File(err)) => BackendError::Server {
            detail: format!("no access token: cannot use the consent file: {err:#}"),
        },
        InvoiceError::Token(_) => BackendError::Unauthorized,
        InvoiceError::Issuer(detail) => BackendError::Refused {
            reason: Refusal::NotSetUp,
            detail,
        },
    }
}

fn refusal_of_code(code: &str) -> Option<Refusal> {
    let code = code.trim();
    Some(match code {
        c if codes::USER_NOT_FOUND.contains(&c) => Refusal::RecipientUnknown,
        codes::USER_NOT_AVAILABLE => Refusal::RecipientUnavailable,
        c if codes::ALREADY_EXISTS.contains(&c) => Refusal::AlreadyExists,
        codes::DAILY_LIMIT => Refusal::DailyLimitReached,
        c if codes::BAD_DATES.contains(&c) => Refusal::InvalidDueDate,
        c if codes::NOT_SET_UP.contains(&c) => Refusal::NotSetUp,
        c if codes::BAD_AMOUNT.contains(&c) => Refusal::InvalidAmount,
        codes::ALREADY_PAID => Refusal::AlreadyPaid,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::invoice_v1::error::Problem;
    use crate::engine::invoicing::InvoiceState;
    use crate::money::Currency;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn line(id: &str, name: &str, quantity: Option<u32>, total: i64, vat_rate: u16) -> OrderLine {
        OrderLine {
            id: id.into(),
            name: name.into(),
            quantity,
            total: Minor(total),
            vat_rate,
        }
    }

    fn invoice(amount: i64, delivery: InvoiceDelivery) -> NewInvoice {
        NewInvoice {
            reference: "inv-7f3a9c2e".into(),
            order_id: "R1-0042".into(),
            amount: Minor(amount),
            currency: Currency::DKK,
            delivery,
            issue_date: date("2026-12-06"),
            due_date: date("2027-01-05"),
            lines: vec![line("5701234567890", "Rugbrød", Some(2), amount, 2500)],
            description: Some("Tak for handlen".into()),
        }
    }

    const ISSUER: &str = "0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c";

    fn text(invoice: &NewInvoice) -> String {
        String::from_utf8(body(&request(invoice, ISSUER))).unwrap()
    }

    #[test]
    fn an_invoice_direct_is_the_documented_body_and_the_same_bytes_every_time() {
        let direct = NewInvoice {
            lines: vec![
                line("5701234567890", "Rugbrød", Some(2), 3990, 2500),
                line("bag", "Bærepose", None, 1005, 0),
            ],
            ..invoice(
                4995,
                InvoiceDelivery::Phone {
                    number: "4557373259".into(),
                },
            )
        };
        let expected = concat!(
            r#"{"InvoiceIssuer":"0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c","#,
            r#""ConsumerAlias":{"Alias":"+4557373259","AliasType":"Phone"},"#,
            r#""TotalAmount":49.95,"TotalVATAmount":7.98,"#,
            r#""InvoiceNumber":"inv-7f3a9c2e","PaymentReference":"R1-0042","#,
            r#""IssueDate":"2026-12-06","DueDate":"2027-01-05","Comment":"Tak for handlen","#,
            r#""InvoiceArticles":["#,
            r#"{"ArticleNumber":"5701234567890","ArticleDescription":"Rugbrød","Quantity":2,"TotalPriceIncludingVat":39.9,"VATRate":25.0},"#,
            r#"{"ArticleNumber":"bag","ArticleDescription":"Bærepose","TotalPriceIncludingVat":10.05,"VATRate":0.0}]}"#,
        );
        assert_eq!(text(&direct), expected);
        // A repeat (the engine's, after a lost answer) is the very same request.
        assert_eq!(text(&direct.clone()), text(&direct));
        assert_eq!(body(&request(&direct, ISSUER)), body(&request(&direct, ISSUER)));
    }

    #[test]
    fn an_invoice_link_names_no_phone() {
        let link = text(&invoice(1099, InvoiceDelivery::Link));
        assert!(!link.contains("ConsumerAlias"), "{link}");
        assert!(link.contains(r#""InvoiceNumber":"inv-7f3a9c2e""#), "{link}");
    }

    #[test]
    fn amounts_are_exact_decimal_major_units() {
        for (minor, wire) in [
            (1, "0.01"),
            (1099, "10.99"),
            (30_000_000, "300000.0"),
            (10, "0.1"),
        ] {
            let sent: serde_json::Value =
                serde_json::from_str(&text(&invoice(minor, InvoiceDelivery::Link))).unwrap();
            assert_eq!(sent["TotalAmount"].to_string(), wire, "{minor}");
            assert_eq!(
                sent["InvoiceArticles"][0]["TotalPriceIncludingVat"].to_string(),
                wire
            );
            // What MobilePay reads back is exactly the amount in minor units.
            let read = crate::money::MajorAmount::from_minor(Minor(minor));
            assert_eq!(read.to_minor(), Ok(Minor(minor)));
        }
    }

    #[test]
    fn the_vat_total_adds_up_the_lines_vat_rounded_per_line() {
        let mixed = NewInvoice {
            lines: vec![
                line("a", "25 %", Some(1), 5000, 2500),   // 1000 VAT
                line("b", "24 %", None, 999, 2400),       // 999 / 1.24 = 805.6 → 193 VAT
                line("c", "12.5 %", Some(3), 1125, 1250), // 125 VAT
                line("d", "none", None, 100, 0),
            ],
            ..invoice(7224, InvoiceDelivery::Link)
        };
        let request = request(&mixed, ISSUER);
        assert_eq!(request.total_vat_amount.to_minor(), Ok(Minor(1318)));
        assert_eq!(request.invoice_articles[2].vat_rate.to_minor(), Ok(Minor(1250)));
        let sent = String::from_utf8(body(&request)).unwrap();
        assert!(sent.contains(r#""VATRate":12.5"#), "{sent}");
    }

    fn details(status: &str, payment_date: Option<&str>) -> Details {
        Details {
            status: status.into(),
            payment_date: payment_date.map(str::to_string),
        }
    }

    #[test]
    fn statuses_are_read_case_insensitively_and_accepted_is_not_money() {
        assert_eq!(state(&details("created", None)), InvoiceState::Issued);
        assert_eq!(state(&details("Created", None)), InvoiceState::Issued);
        assert_eq!(
            state(&details("Accepted", Some("2026-12-24"))),
            InvoiceState::Scheduled {
                payment_date: Some(date("2026-12-24"))
            }
        );
        assert_eq!(
            state(&details("accepted", Some("2026-12-24T00:00:00+01:00"))),
            InvoiceState::Scheduled {
                payment_date: Some(date("2026-12-24"))
            }
        );
        assert_eq!(
            state(&details("accepted", Some("soon"))),
            InvoiceState::Scheduled { payment_date: None }
        );
        assert_eq!(state(&details("PAID", None)), InvoiceState::Paid);
        assert_eq!(state(&details("rejected", None)), InvoiceState::Rejected);
        assert_eq!(state(&details("expired", None)), InvoiceState::Expired);
        assert_eq!(state(&details("canceled", None)), InvoiceState::Cancelled);
        assert_eq!(
            state(&details("invalid", None)),
            InvoiceState::Unrecognised("invalid".into())
        );
    }

    fn refused(endpoint: &'static str, status: u16, code: Option<&str>) -> BackendError {
        let body = serde_json::json!({
            "correlation_id": "c-1",
            "error": if status == 400 { "InputError" } else { "DomainError" },
            "error_code": code,
            "error_description": "in MobilePay's words",
            "error_context": "Invoices",
        });
        error(InvoiceError::Refused {
            endpoint,
            status,
            problem: Problem::from_body(body.to_string().as_bytes()),
        })
    }

    fn reason(endpoint: &'static str, status: u16, code: Option<&str>) -> Option<Refusal> {
        refused(endpoint, status, code).refusal()
    }

    #[test]
    fn every_documented_code_has_its_refusal() {
        let create = endpoints::CREATE_DIRECT;
        for (codes, wanted) in [
            (
                &["10101", "10103", "10304", "10305", "10306"][..],
                Refusal::RecipientUnknown,
            ),
            (&["10102"], Refusal::RecipientUnavailable),
            (&["10104", "10301"], Refusal::AlreadyExists),
            (&["10314"], Refusal::DailyLimitReached),
            (&["10310", "10311", "10312"], Refusal::InvalidDueDate),
            (&["10202", "10303", "10302"], Refusal::NotSetUp),
            (&["10008", "10201"], Refusal::InvalidAmount),
            (&["10504"], Refusal::AlreadyPaid),
        ] {
            for code in codes {
                assert_eq!(reason(create, 409, Some(code)), Some(wanted), "{code}");
            }
        }
        // `merchants/me` answers "merchant not found" with 404: still the product, not the id.
        assert_eq!(
            reason(endpoints::MERCHANT_ME, 404, Some("10302")),
            Some(Refusal::NotSetUp)
        );
    }

    #[test]
    fn statuses_without_a_known_code() {
        assert_eq!(
            reason(endpoints::CANCEL, 409, None),
            Some(Refusal::NotCancellable)
        );
        assert_eq!(
            reason(endpoints::CREATE_LINK, 409, None),
            Some(Refusal::StateConflict)
        );
        assert_eq!(
            reason(endpoints::CREATE_LINK, 409, Some("19999")),
            Some(Refusal::StateConflict)
        );
        assert_eq!(reason(endpoints::CREATE_LINK, 400, None), Some(Refusal::Invalid));
        assert_eq!(refused(endpoints::GET, 404, None), BackendError::NotFound);
        let detail = match refused(endpoints::CREATE_DIRECT, 409, Some("10101")) {
            BackendError::Refused { detail, .. } => detail,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            detail,
            "HTTP 409, 10101 DomainError: in MobilePay's words [correlation_id c-1]"
        );
        let server = error(InvoiceError::Server {
            endpoint: endpoints::GET,
            status: 503,
            attempts: 3,
            problem: Problem::from_body(b"<html>busy</html>"),
        });
        assert_eq!(
            server,
            BackendError::Server {
                detail: "HTTP 503, no error details".into()
            }
        );
        let lost = InvoiceError::NoAnswer {
            endpoint: endpoints::CREATE_DIRECT,
            attempts: 1,
            reason: "timed out".into(),
        };
        assert_eq!(error(lost), BackendError::NoAnswer);
    }

    #[test]
    fn token_failures_say_whether_a_person_must_act() {
        let unauthorized = InvoiceError::Unauthorized {
            endpoint: endpoints::GET,
            what: "the token".into(),
        };
        assert_eq!(error(unauthorized), BackendError::Unauthorized);
        let revoked = InvoiceError::Token(RefreshError::ConsentNeeded(
            crate::consent::store::Needed::Refused,
        ));
        assert_eq!(error(revoked), BackendError::Unauthorized);
        assert_eq!(
            error(InvoiceError::Token(RefreshError::NotGiven)),
            BackendError::Unauthorized
        );
        let down = error(InvoiceError::Token(RefreshError::Unavailable(
            "cannot connect".into(),
        )));
        assert!(
            matches!(&down, BackendError::Server { detail } if detail.contains("cannot connect")),
            "{down:?}"
        );
    }

    fn issuer(id: &str, name: &str, status: Option<&str>) -> Issuer {
        Issuer {
            id: id.into(),
            name: Some(name.into()),
            status: status.map(str::to_string),
        }
    }

    #[test]
    fn without_a_configured_issuer_the_only_enabled_one_is_used() {
        let pending = issuer("p", "Pending", Some("pending"));
        let enabled = issuer("e", "Bageriet", Some("Enabled"));
        let other = issuer("o", "Kiosken", Some("enabled"));
        assert_eq!(
            only_enabled_issuer(&[pending.clone(), enabled.clone()]),
            Ok("e".into())
        );
        let several = only_enabled_issuer(&[enabled, other, pending.clone()]).unwrap_err();
        assert!(several.contains("several enabled"), "{several}");
        assert!(several.contains("e (Bageriet), o (Kiosken)"), "{several}");
        assert!(!several.contains("Pending"), "{several}");
        let none = only_enabled_issuer(&[pending, issuer("n", "Null", None)]).unwrap_err();
        assert!(
            none.contains("none of the merchant's invoice issuers is enabled: p (Pending), n (Null)"),
            "{none}"
        );
        assert!(only_enabled_issuer(&[])
            .unwrap_err()
            .contains("no invoice issuer"));
        let refusal = error(InvoiceError::Issuer(several)).refusal();
        assert_eq!(refusal, Some(Refusal::NotSetUp));
    }
}
