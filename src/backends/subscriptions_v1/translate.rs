//! The Subscriptions API in the engine's words, without I/O: a [`NewAgreement`] into the create
//! request, statuses into [`AgreementState`] and [`FirstPaymentState`], the agreement's
//! one-off and `mobile-pay` link picked from answers, error answers into [`BackendError`]s and
//! [`Refusal`]s, and the choice of the provider to sign customers up to.
//!
//! Choices where the reference is silent:
//! - Statuses are compared case-insensitively and both spellings of "cancelled" are read; the
//!   old word `Active` means `Accepted`.
//! - A `412` is read by the call it answers: on a capture [`Refusal::NotCapturable`] (the
//!   one-off is not reserved, or already captured: the engine reads it and decides again), on
//!   an agreement cancel [`Refusal::NotCancellable`], on a create [`Refusal::NotSetUp`] (the
//!   only rule a valid create can break is a provider that is not enabled), on a refund by its
//!   code, elsewhere [`Refusal::StateConflict`].
//! - A `400` carries no code (`error_code` is `null`): one whose message names an `amount`
//!   field is [`Refusal::InvalidAmount`], any other [`Refusal::Invalid`].
//! - A gateway that refuses the token even after a refresh, and a consent that cannot give a
//!   token (revoked, never given), are [`BackendError::Unauthorized`]; a token endpoint that
//!   cannot be reached is a [`BackendError::Server`] failure: nothing was sent.

use super::client::endpoints;
use super::config::AgreementLinks;
use super::error::SubscriptionsError;
use super::model::{AgreementRequest, Link, OneOff, OneOffRequest, Provider, RefundRequest};
use crate::consent::driver::RefreshError;
use crate::engine::agreements::{AgreementState, FirstPaymentState, NewAgreement, NewAgreementRefund};
use crate::engine::backend::{BackendError, Refusal};
use crate::money::{Currency, MajorAmount, Minor};

/// The refund codes the translation names (reference §3.9; the simulator and the 2024 facade
/// answer them synchronously with `412`).
pub mod codes {
    pub const FULLY_REFUNDED: &str = "60001";
    pub const ABOVE_ORIGINAL: &str = "60002";
    pub const TOO_OLD: &str = "60006";
    pub const NO_BALANCE: &str = "60008";
}

/// The `rel` of the link the customer opens to accept an agreement.
pub const MOBILE_PAY: &str = "mobile-pay";

/// The smallest refund MobilePay takes (0.10, reference §3.9).
pub const REFUND_MINIMUM: Minor = Minor(10);

/// The country whose app an agreement in `currency` is for.
pub fn country_code(currency: Currency) -> &'static str {
    match currency {
        Currency::DKK => "DK",
        Currency::EUR => "FI",
    }
}

/// The create request for `agreement` with the merchant's `links`. Everything in it comes from
/// its arguments (no clock, no random id). The engine's reference is the agreement's
/// `external_id` and its one-off's, which is how [`crate::engine::agreements::Agreements`]'
/// look-ups find what a request with a lost answer made.
pub fn agreement_request(agreement: &NewAgreement, links: &AgreementLinks) -> AgreementRequest {
    let link = |rel: &str, href: &str| Link {
        rel: rel.to_string(),
        href: href.to_string(),
    };
    AgreementRequest {
        amount: agreement.price.map(MajorAmount::from_minor),
        currency: agreement.currency.code(),
        country_code: country_code(agreement.currency),
        plan: agreement.plan.clone(),
        description: agreement.description.clone(),
        frequency: agreement.payments_per_year.unwrap_or(0),
        external_id: agreement.reference.clone(),
        expiration_timeout_minutes: agreement.expires_after_minutes,
        // The API wants country code and number without the plus.
        mobile_phone_number: agreement
            .phone
            .as_ref()
            .map(|p| p.trim().trim_start_matches('+').to_string()),
        links: vec![
            link("user-redirect", &links.user_redirect),
            link("success-callback", &links.success_callback),
            link("cancel-callback", &links.cancel_callback),
        ],
        one_off_payment: agreement.first_payment.as_ref().map(|first| OneOffRequest {
            amount: MajorAmount::from_minor(first.amount),
            external_id: agreement.reference.clone(),
            description: first.description.clone(),
        }),
    }
}

/// The refund request for `refund`, its result posted to `callback`.
pub fn refund_request(refund: &NewAgreementRefund, callback: &str) -> RefundRequest {
    RefundRequest {
        amount: MajorAmount::from_minor(refund.amount),
        status_callback_url: callback.to_string(),
        external_id: refund.reference.clone(),
    }
}

/// A request's bytes. Serialising a struct of strings and numbers cannot fail.
pub fn body<T: serde::Serialize>(request: &T) -> Vec<u8> {
    serde_json::to_vec(request).unwrap_or_default()
}

/// The `mobile-pay` link among an agreement's links.
pub fn mobile_pay_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.eq_ignore_ascii_case(MOBILE_PAY))
        .map(|l| l.href.clone())
}

pub fn agreement_state(status: &str) -> AgreementState {
    match status.trim().to_ascii_lowercase().as_str() {
        "pending" => AgreementState::Pending,
        "accepted" | "active" => AgreementState::Active,
        "rejected" => AgreementState::Rejected,
        "expired" => AgreementState::Expired,
        "canceled" | "cancelled" => AgreementState::Cancelled,
        _ => AgreementState::Unrecognised(status.to_string()),
    }
}

pub fn one_off_state(status: &str) -> FirstPaymentState {
    match status.trim().to_ascii_lowercase().as_str() {
        "requested" => FirstPaymentState::Pending,
        "reserved" => FirstPaymentState::Reserved,
        "captured" => FirstPaymentState::Captured,
        "rejected" => FirstPaymentState::Rejected,
        "expired" => FirstPaymentState::Expired,
        "canceled" | "cancelled" => FirstPaymentState::Cancelled,
        _ => FirstPaymentState::Unrecognised(status.to_string()),
    }
}

/// The first payment among an agreement's one-offs: the one carrying the agreement's
/// `external_id` (ours carry the engine's reference on both), else the only one there is.
pub fn first_payment<'a>(external_id: Option<&str>, one_offs: &'a [OneOff]) -> Option<&'a OneOff> {
    let by_reference = external_id.and_then(|reference| {
        one_offs
            .iter()
            .find(|o| o.external_id.as_deref() == Some(reference))
    });
    match (by_reference, one_offs) {
        (Some(found), _) => Some(found),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
}

/// The provider to sign customers up to when none is configured: the merchant's only enabled
/// one. None, or several, is a setting to make, and the message says which providers there are.
pub fn only_enabled_provider(providers: &[Provider]) -> Result<String, String> {
    let enabled: Vec<&Provider> = providers
        .iter()
        .filter(|p| {
            p.status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
        })
        .collect();
    let list = |of: &[&Provider]| {
        of.iter()
            .map(|p| match &p.name {
                Some(name) => format!("{} ({name})", p.id),
                None => p.id.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match enabled.as_slice() {
        [one] => Ok(one.id.clone()),
        [] if providers.is_empty() => {
            Err("the merchant has no subscription provider: create one in the MobilePay portal".into())
        }
        [] => Err(format!(
            "none of the merchant's subscription providers is enabled: {}",
            list(&providers.iter().collect::<Vec<_>>())
        )),
        several => Err(format!(
            "the merchant has several enabled subscription providers; choose one with provider = \"…\": {}",
            list(several)
        )),
    }
}

/// A client error in the engine's terms. `detail` keeps the API's status, code and wording.
pub fn error(error: SubscriptionsError) -> BackendError {
    match error {
        SubscriptionsError::Refused {
            endpoint,
            status,
            problem,
        } => {
            let detail = format!("HTTP {status}, {problem}");
            let reason = match status {
                404 => return BackendError::NotFound,
                403 => return BackendError::Forbidden { detail },
                400 if problem
                    .message
                    .as_deref()
                    .is_some_and(|m| m.to_ascii_lowercase().contains("amount")) =>
                {
                    Refusal::InvalidAmount
                }
                412 => precondition(endpoint, problem.code.as_deref()),
                409 => Refusal::StateConflict,
                _ => Refusal::Invalid,
            };
            BackendError::Refused { reason, detail }
        }
        SubscriptionsError::Unauthorized { .. } => BackendError::Unauthorized,
        SubscriptionsError::Server { status, problem, .. } => BackendError::Server {
            detail: format!("HTTP {status}, {problem}"),
        },
        SubscriptionsError::NoAnswer { .. } | SubscriptionsError::InvalidAnswer { .. } => {
            BackendError::NoAnswer
        }
        SubscriptionsError::Token(RefreshError::Unavailable(reason)) => BackendError::Server {
            detail: format!("no access token: MobilePay's token endpoint cannot be reached: {reason}"),
        },
        SubscriptionsError::Token(RefreshError::File(err)) => BackendError::Server {
            detail: format!("no access token: cannot use the consent file: {err:#}"),
        },
        SubscriptionsError::Token(_) => BackendError::Unauthorized,
        SubscriptionsError::Provider(detail) => BackendError::Refused {
            reason: Refusal::NotSetUp,
            detail,
        },
    }
}

/// What a `412` ("a business rule") means for the call it answers.
fn precondition(endpoint: &str, code: Option<&str>) -> Refusal {
    match (endpoint, code) {
        (endpoints::CREATE_REFUND, Some(codes::FULLY_REFUNDED | codes::ABOVE_ORIGINAL)) => {
            Refusal::AmountAboveRefundable
        }
        (endpoints::CREATE_REFUND, Some(codes::TOO_OLD)) => Refusal::PaymentTooOld,
        (endpoints::CREATE_REFUND, Some(codes::NO_BALANCE)) => Refusal::InsufficientBalance,
        (endpoints::CAPTURE_ONE_OFF, _) => Refusal::NotCapturable,
        (endpoints::CANCEL_AGREEMENT, _) => Refusal::NotCancellable,
        (endpoints::CREATE_AGREEMENT, _) => Refusal::NotSetUp,
        _ => Refusal::StateConflict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::subscriptions_v1::error::Problem;
    use crate::engine::agreements::FirstPayment;
    use serde_json::{json, Value};

    fn links() -> AgreementLinks {
        AgreementLinks {
            user_redirect: "https://bageriet.example/welcome".into(),
            success_callback: "https://integrator.example/ok".into(),
            cancel_callback: "https://integrator.example/cancel".into(),
            refund_callback: None,
        }
    }

    fn sign_up() -> NewAgreement {
        NewAgreement {
            reference: "k-7f3a".into(),
            plan: "Brødklub".into(),
            description: Some("Fresh bread every month".into()),
            price: Some(Minor(1099)),
            currency: Currency::DKK,
            payments_per_year: Some(12),
            phone: Some("4512345678".into()),
            first_payment: Some(FirstPayment {
                amount: Minor(1),
                description: "Brødklub".into(),
            }),
            expires_after_minutes: 5,
        }
    }

    fn json_of<T: serde::Serialize>(request: &T) -> Value {
        serde_json::from_slice(&body(request)).unwrap()
    }

    #[test]
    fn the_create_body_is_snake_case_with_exact_major_amounts_and_the_reference() {
        let request = agreement_request(&sign_up(), &links());
        assert_eq!(
            json_of(&request),
            json!({
                "amount": 10.99,
                "currency": "DKK",
                "country_code": "DK",
                "plan": "Brødklub",
                "description": "Fresh bread every month",
                "frequency": 12,
                "external_id": "k-7f3a",
                "expiration_timeout_minutes": 5,
                "mobile_phone_number": "4512345678",
                "links": [
                    {"rel": "user-redirect", "href": "https://bageriet.example/welcome"},
                    {"rel": "success-callback", "href": "https://integrator.example/ok"},
                    {"rel": "cancel-callback", "href": "https://integrator.example/cancel"}
                ],
                "one_off_payment": {"amount": 0.01, "external_id": "k-7f3a", "description": "Brødklub"}
            })
        );
        // The same agreement is the same bytes.
        assert_eq!(body(&request), body(&agreement_request(&sign_up(), &links())));
    }

    #[test]
    fn euro_flexible_variable_agreements_without_one_off_or_phone() {
        let mut agreement = sign_up();
        agreement.currency = Currency::EUR;
        agreement.payments_per_year = None;
        agreement.price = None;
        agreement.first_payment = None;
        agreement.phone = Some("+358401234567".into());
        agreement.description = None;
        let v = json_of(&agreement_request(&agreement, &links()));
        assert_eq!(
            (v["currency"].as_str(), v["country_code"].as_str()),
            (Some("EUR"), Some("FI"))
        );
        assert_eq!(v["frequency"], 0, "flexible");
        assert_eq!(v["mobile_phone_number"], "358401234567", "without the plus");
        for absent in ["amount", "one_off_payment", "description"] {
            assert!(v.get(absent).is_none(), "{absent} in {v}");
        }
        agreement.phone = None;
        assert!(json_of(&agreement_request(&agreement, &links()))
            .get("mobile_phone_number")
            .is_none());
    }

    #[test]
    fn large_amounts_are_exact() {
        let mut agreement = sign_up();
        agreement.price = Some(Minor(29_999_999));
        agreement.first_payment.as_mut().unwrap().amount = Minor(123_456_789_012);
        let text = String::from_utf8(body(&agreement_request(&agreement, &links()))).unwrap();
        assert!(text.contains(r#""amount":299999.99"#), "{text}");
        assert!(text.contains(r#""amount":1234567890.12"#), "{text}");
        let refund = NewAgreementRefund {
            agreement_id: "a".into(),
            payment_id: "p".into(),
            amount: Minor(1099),
            currency: Currency::DKK,
            reference: "r-1".into(),
        };
        assert_eq!(
            json_of(&refund_request(&refund, "https://integrator.example/refunds")),
            json!({"amount": 10.99, "status_callback_url": "https://integrator.example/refunds", "external_id": "r-1"})
        );
    }

    #[test]
    fn statuses_in_any_case_and_spelling() {
        assert_eq!(agreement_state("Pending"), AgreementState::Pending);
        assert_eq!(agreement_state("accepted"), AgreementState::Active);
        assert_eq!(agreement_state("ACTIVE"), AgreementState::Active);
        assert_eq!(agreement_state("Rejected"), AgreementState::Rejected);
        assert_eq!(agreement_state("Expired"), AgreementState::Expired);
        assert_eq!(agreement_state("Canceled"), AgreementState::Cancelled);
        assert_eq!(agreement_state("cancelled"), AgreementState::Cancelled);
        assert_eq!(
            agreement_state("Paused"),
            AgreementState::Unrecognised("Paused".into())
        );
        assert_eq!(one_off_state("Requested"), FirstPaymentState::Pending);
        assert_eq!(one_off_state("reserved"), FirstPaymentState::Reserved);
        assert_eq!(one_off_state("Captured"), FirstPaymentState::Captured);
        assert_eq!(one_off_state("Rejected"), FirstPaymentState::Rejected);
        assert_eq!(one_off_state("Expired"), FirstPaymentState::Expired);
        assert_eq!(one_off_state("Canceled"), FirstPaymentState::Cancelled);
        assert_eq!(one_off_state("CANCELLED"), FirstPaymentState::Cancelled);
        assert_eq!(
            one_off_state("Declined"),
            FirstPaymentState::Unrecognised("Declined".into())
        );
    }

    fn one_off(id: &str, external_id: Option<&str>) -> OneOff {
        OneOff {
            id: id.into(),
            status: "Requested".into(),
            amount: Minor(100),
            external_id: external_id.map(str::to_string),
        }
    }

    #[test]
    fn the_first_payment_is_the_one_with_the_reference_or_the_only_one() {
        let list = [one_off("later", Some("x")), one_off("first", Some("k"))];
        assert_eq!(first_payment(Some("k"), &list).unwrap().id, "first");
        assert!(first_payment(Some("other"), &list).is_none());
        assert!(first_payment(None, &list).is_none());
        let only = [one_off("only", None)];
        assert_eq!(first_payment(Some("k"), &only).unwrap().id, "only");
        assert!(first_payment(Some("k"), &[]).is_none());
    }

    #[test]
    fn the_mobile_pay_link_is_picked_by_rel() {
        let links = vec![
            Link {
                rel: "user-redirect".into(),
                href: "https://shop".into(),
            },
            Link {
                rel: "Mobile-Pay".into(),
                href: "https://landing/?id=1".into(),
            },
        ];
        assert_eq!(mobile_pay_link(&links).as_deref(), Some("https://landing/?id=1"));
        assert_eq!(mobile_pay_link(&links[..1]), None);
    }

    fn provider(id: &str, status: &str) -> Provider {
        Provider {
            id: id.into(),
            name: Some(format!("{id} club")),
            status: Some(status.into()),
        }
    }

    #[test]
    fn the_only_enabled_provider_is_chosen() {
        let one = [provider("a", "Enabled"), provider("b", "Pending")];
        assert_eq!(only_enabled_provider(&one).unwrap(), "a");
        let none = [provider("b", "Pending")];
        assert!(only_enabled_provider(&none).unwrap_err().contains("b (b club)"));
        let two = [provider("a", "enabled"), provider("c", "ENABLED")];
        let err = only_enabled_provider(&two).unwrap_err();
        assert!(
            err.contains("several") && err.contains("a (a club), c (c club)"),
            "{err}"
        );
        assert!(only_enabled_provider(&[])
            .unwrap_err()
            .contains("no subscription provider"));
    }

    fn refused(endpoint: &'static str, status: u16, message: &str, code: Option<&str>) -> BackendError {
        error(SubscriptionsError::Refused {
            endpoint,
            status,
            problem: Problem {
                kind: Some("X".into()),
                message: Some(message.into()),
                code: code.map(str::to_string),
                correlation_id: None,
            },
        })
    }

    #[test]
    fn errors_map_to_the_engines_refusals() {
        use endpoints::*;
        let reason = |e: BackendError| e.refusal();
        assert_eq!(
            reason(refused(
                CREATE_AGREEMENT,
                400,
                "plan must be at most 30 characters.",
                None
            )),
            Some(Refusal::Invalid)
        );
        assert_eq!(
            reason(refused(
                CREATE_AGREEMENT,
                400,
                "one_off_payment.amount must be greater than 0.",
                None
            )),
            Some(Refusal::InvalidAmount)
        );
        assert_eq!(
            reason(refused(CREATE_REFUND, 400, "amount must be at least 0.10.", None)),
            Some(Refusal::InvalidAmount)
        );
        assert_eq!(
            reason(refused(
                CREATE_AGREEMENT,
                412,
                "The subscription provider is not enabled.",
                None
            )),
            Some(Refusal::NotSetUp)
        );
        assert_eq!(
            reason(refused(CAPTURE_ONE_OFF, 412, "already captured", None)),
            Some(Refusal::NotCapturable)
        );
        assert_eq!(
            reason(refused(CANCEL_AGREEMENT, 412, "is Expired", None)),
            Some(Refusal::NotCancellable)
        );
        for (code, want) in [
            ("60001", Refusal::AmountAboveRefundable),
            ("60002", Refusal::AmountAboveRefundable),
            ("60006", Refusal::PaymentTooOld),
            ("60008", Refusal::InsufficientBalance),
            ("60004", Refusal::StateConflict),
            ("60005", Refusal::StateConflict),
        ] {
            assert_eq!(
                reason(refused(CREATE_REFUND, 412, "declined", Some(code))),
                Some(want),
                "{code}"
            );
        }
        assert_eq!(
            reason(refused(GET_AGREEMENT, 412, "x", None)),
            Some(Refusal::StateConflict)
        );
        assert_eq!(refused(GET_AGREEMENT, 404, "", None), BackendError::NotFound);
        assert!(matches!(
            refused(GET_AGREEMENT, 403, "", None),
            BackendError::Forbidden { .. }
        ));
        let server = error(SubscriptionsError::Server {
            endpoint: CREATE_AGREEMENT,
            status: 503,
            attempts: 1,
            problem: Problem::default(),
        });
        assert_eq!(
            server,
            BackendError::Server {
                detail: "HTTP 503, no error details".into()
            }
        );
        let lost = error(SubscriptionsError::NoAnswer {
            endpoint: CREATE_REFUND,
            attempts: 1,
            reason: "timed out".into(),
        });
        assert_eq!(lost, BackendError::NoAnswer);
        let unauthorized = error(SubscriptionsError::Unauthorized {
            endpoint: GET_AGREEMENT,
            what: "token".into(),
        });
        assert_eq!(unauthorized, BackendError::Unauthorized);
        assert_eq!(
            error(SubscriptionsError::Token(RefreshError::NotGiven)),
            BackendError::Unauthorized
        );
        assert!(matches!(
            error(SubscriptionsError::Token(RefreshError::Unavailable(
                "down".into()
            ))),
            BackendError::Server { .. }
        ));
        assert_eq!(
            error(SubscriptionsError::Provider("none".into())).refusal(),
            Some(Refusal::NotSetUp)
        );
    }
}
