//! ePayment answers in the engine's words: errors into [`BackendError`]s and [`Refusal`]s
//! (by HTTP status and `ErrorCode`, never by title), a payment's `state` and `aggregate` into a
//! [`PaymentState`]. Pure functions, so every rule has a test.
//!
//! Choices where the reference is silent:
//! - A reference already used with another key (`4150`) and a key reused with another body
//!   (`4010`, `4020`) are both [`Refusal::KeyReused`]: in both the engine's request collides
//!   with an earlier one it must look up, not repeat.
//! - A cancel refused because the payment is captured or beyond the cancel window (`6030`,
//!   `6040`, `6060`) is [`Refusal::NotCancellable`]; a cancel of an already ended payment is
//!   answered 200 by the API and needs no rule.
//! - A lock (423) that outlasts the client's repeats is [`Refusal::StateConflict`]: the
//!   customer is still deciding; the engine reads the payment and decides again.
//! - `6280` (transient) and `3010` (internal) are server errors whatever their status: the
//!   same key may be repeated.
//! - A schema error names a field instead of a code: `reference` is
//!   [`Refusal::InvalidOrderId`], `paymentDescription` [`Refusal::InvalidLabel`], an amount
//!   [`Refusal::InvalidAmount`], anything else [`Refusal::Invalid`].
//! - `TERMINATED` (cancelled by the merchant before approval) is [`PaymentState::Cancelled`];
//!   `ABORTED` is declined by the customer.

use crate::backends::epayment::{
    error::{EpError, ProblemInfo, TokenError},
    model::{Aggregate, Amount, State},
};
use crate::engine::backend::{Amounts, BackendError, Decliner, PaymentState, Refusal};
use crate::money::Minor;

/// The ePayment `ErrorCode`s the translation names.
pub mod codes {
    pub const INTERNAL: &str = "3010";
    pub const MODIFICATION_KEY_REUSED: &str = "4010";
    pub const CREATE_KEY_REUSED: &str = "4020";
    pub const INVALID_AMOUNT: &str = "4040";
    pub const REFERENCE_EXISTS: &str = "4150";
    pub const CURRENCY_MISMATCH: &str = "5040";
    pub const REFERENCE_NOT_FOUND: &str = "5090";
    pub const AMOUNT_TOO_SMALL: &str = "6010";
    pub const REFUND_BEFORE_CAPTURE: &str = "6020";
    pub const CANCEL_TOO_LATE: &str = "6030";
    pub const CANCEL_AFTER_CAPTURE: &str = "6040";
    pub const CANCEL_ONLY_TRANSACTION: &str = "6060";
    pub const CAPTURE_AFTER_CANCEL: &str = "6070";
    pub const NOT_AUTHORIZED: &str = "6080";
    pub const CAPTURE_ABOVE_RESERVED: &str = "6090";
    pub const PARTIAL_CAPTURE_NOT_ALLOWED: &str = "6140";
    pub const REFUND_ABOVE_CAPTURED: &str = "6150";
    pub const PAYMENT_TOO_OLD: &str = "6220";
    pub const FUNDS_UNAVAILABLE: &str = "6260";
    pub const TRANSIENT: &str = "6280";
}

/// The refusal of a 4xx answer with `status` and what its problem says.
pub fn refusal(status: u16, info: &ProblemInfo) -> Refusal {
    match info.code() {
        Some(code) => refusal_of_code(status, code),
        None => match info.field() {
            Some("reference") => Refusal::InvalidOrderId,
            Some("paymentDescription") => Refusal::InvalidLabel,
            Some(field) if field.contains("mount") => Refusal::InvalidAmount,
            _ if status == 409 => Refusal::StateConflict,
            _ => Refusal::Invalid,
        },
    }
}

fn refusal_of_code(status: u16, code: &str) -> Refusal {
    match code {
        codes::MODIFICATION_KEY_REUSED | codes::CREATE_KEY_REUSED | codes::REFERENCE_EXISTS => {
            Refusal::KeyReused
        }
        codes::INVALID_AMOUNT | codes::AMOUNT_TOO_SMALL => Refusal::InvalidAmount,
        codes::CURRENCY_MISMATCH => Refusal::CurrencyMismatch,
        codes::REFERENCE_NOT_FOUND => Refusal::UnknownPayment,
        codes::REFUND_BEFORE_CAPTURE => Refusal::NotCaptured,
        codes::CANCEL_TOO_LATE | codes::CANCEL_AFTER_CAPTURE | codes::CANCEL_ONLY_TRANSACTION => {
            Refusal::NotCancellable
        }
        codes::CAPTURE_AFTER_CANCEL | codes::NOT_AUTHORIZED | codes::FUNDS_UNAVAILABLE => {
            Refusal::NotCapturable
        }
        codes::CAPTURE_ABOVE_RESERVED => Refusal::AmountAboveReserved,
        codes::PARTIAL_CAPTURE_NOT_ALLOWED => Refusal::PartialCaptureNotAllowed,
        codes::REFUND_ABOVE_CAPTURED => Refusal::AmountAboveRefundable,
        codes::PAYMENT_TOO_OLD => Refusal::PaymentTooOld,
        _ if status == 409 => Refusal::StateConflict,
        _ => Refusal::Invalid,
    }
}

/// A client error in the engine's terms. `detail` keeps the API's status, code and wording for
/// people reading the outcome or the log.
pub fn error(error: EpError) -> BackendError {
    match error {
        EpError::Refused { status: 404, .. } => BackendError::NotFound,
        EpError::Refused {
            status: 403, info, ..
        } => BackendError::Forbidden {
            detail: info.to_string(),
        },
        EpError::Refused { status, info, .. }
            if matches!(info.code(), Some(codes::TRANSIENT | codes::INTERNAL)) =>
        {
            BackendError::Server {
                detail: format!("HTTP {status}, {info}"),
            }
        }
        EpError::Refused { status, info, .. } => BackendError::Refused {
            reason: refusal(status, &info),
            detail: format!("HTTP {status}, {info}"),
        },
        EpError::Locked { info, .. } => BackendError::Refused {
            reason: Refusal::StateConflict,
            detail: format!("HTTP 423, {info}"),
        },
        EpError::RateLimited { .. } => BackendError::Server {
            detail: "HTTP 429, rate-limited".into(),
        },
        EpError::Server { status, info, .. } => BackendError::Server {
            detail: format!("HTTP {status}, {info}"),
        },
        EpError::Unauthorized { .. } | EpError::Token(TokenError::Refused { .. } | TokenError::Secret(_)) => {
            BackendError::Unauthorized
        }
        EpError::Token(err @ TokenError::Unavailable { .. }) => BackendError::Server {
            detail: err.to_string(),
        },
        // A 2xx we could not read did take effect: like a lost answer, the engine repeats
        // (with the same key) or reads the payment instead of guessing.
        EpError::NoAnswer { .. } | EpError::InvalidAnswer { .. } => BackendError::NoAnswer,
        EpError::BadIdempotencyKey { key, max } => BackendError::Refused {
            reason: Refusal::Invalid,
            detail: format!("idempotency key {key:?} is empty or longer than {max} characters"),
        },
    }
}

/// A payment's state in the engine's words. The money of an authorized payment comes from its
/// aggregate, in minor units; an aggregate in another currency than the payment's, or with a
/// negative amount, is not understood (read again).
pub fn payment_state(state: &State, amount: &Amount, aggregate: &Aggregate) -> PaymentState {
    match state {
        State::Created => PaymentState::WaitingForCustomer,
        State::Authorized => amounts(amount, aggregate).map_or_else(
            || PaymentState::Unrecognised("AUTHORIZED with an unreadable aggregate".into()),
            PaymentState::Authorized,
        ),
        State::Aborted => PaymentState::Declined(Decliner::Customer),
        State::Expired => PaymentState::Expired,
        State::Terminated => PaymentState::Cancelled,
        State::Other(other) => PaymentState::Unrecognised(other.clone()),
    }
}

fn amounts(amount: &Amount, aggregate: &Aggregate) -> Option<Amounts> {
    let minor = |a: &Amount| (a.currency == amount.currency && a.value >= 0).then_some(Minor(a.value));
    Some(Amounts {
        authorized: minor(&aggregate.authorized_amount)?,
        captured: minor(&aggregate.captured_amount)?,
        cancelled: minor(&aggregate.cancelled_amount)?,
        refunded: minor(&aggregate.refunded_amount)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::epayment::model::{Currency, ExtraDetail, Problem};

    fn info(code: Option<&str>, field: Option<&str>) -> ProblemInfo {
        let detail = |name: &str, reason: &str| ExtraDetail {
            name: name.into(),
            reason: reason.into(),
        };
        let mut details = Vec::new();
        if let Some(code) = code {
            details.push(detail("ErrorCode", code));
        }
        if let Some(field) = field {
            details.push(detail(field, "is wrong"));
        }
        ProblemInfo {
            problem: Some(Problem {
                kind: "https://httpstatuses.io/400".into(),
                title: "a title the translation never reads".into(),
                status: 400,
                detail: None,
                instance: None,
                trace_id: None,
                extra_details: (!details.is_empty()).then_some(details),
            }),
        }
    }

    fn refused(status: u16, code: Option<&str>) -> BackendError {
        error(EpError::Refused {
            endpoint: "x",
            status,
            info: info(code, None),
        })
    }

    #[test]
    fn codes_become_refusals() {
        let cases = [
            (400, "6090", Refusal::AmountAboveReserved),
            (400, "6150", Refusal::AmountAboveRefundable),
            (409, "4150", Refusal::KeyReused),
            (409, "4020", Refusal::KeyReused),
            (409, "4010", Refusal::KeyReused),
            (400, "5040", Refusal::CurrencyMismatch),
            (400, "4040", Refusal::InvalidAmount),
            (400, "6010", Refusal::InvalidAmount),
            (400, "6080", Refusal::NotCapturable),
            (400, "6070", Refusal::NotCapturable),
            (400, "6020", Refusal::NotCaptured),
            (400, "6040", Refusal::NotCancellable),
            (400, "6060", Refusal::NotCancellable),
            (400, "6140", Refusal::PartialCaptureNotAllowed),
            (400, "6220", Refusal::PaymentTooOld),
            (400, "5090", Refusal::UnknownPayment),
            (400, "7010", Refusal::Invalid),
            (409, "9999", Refusal::StateConflict),
            (422, "5070", Refusal::Invalid),
        ];
        for (status, code, reason) in cases {
            assert_eq!(
                refused(status, Some(code)).refusal(),
                Some(reason),
                "{status} {code}"
            );
        }
    }

    #[test]
    fn statuses_without_a_code_have_their_own_meaning() {
        assert_eq!(refused(404, None), BackendError::NotFound);
        assert!(matches!(refused(403, None), BackendError::Forbidden { .. }));
        assert_eq!(refused(400, None).refusal(), Some(Refusal::Invalid));
        let field = |name| {
            error(EpError::Refused {
                endpoint: "x",
                status: 400,
                info: info(None, Some(name)),
            })
            .refusal()
        };
        assert_eq!(field("reference"), Some(Refusal::InvalidOrderId));
        assert_eq!(field("paymentDescription"), Some(Refusal::InvalidLabel));
        assert_eq!(field("modificationAmount"), Some(Refusal::InvalidAmount));
        let locked = error(EpError::Locked {
            endpoint: "x",
            attempts: 5,
            info: info(Some("6250"), None),
        });
        assert_eq!(locked.refusal(), Some(Refusal::StateConflict));
        assert!(refused(400, Some("6280")).is_transient());
        assert!(error(EpError::RateLimited {
            endpoint: "x",
            attempts: 3
        })
        .is_transient());
        let lost = error(EpError::NoAnswer {
            endpoint: "x",
            attempts: 3,
            reason: "timed out".into(),
        });
        assert_eq!(lost, BackendError::NoAnswer);
    }

    #[test]
    fn the_detail_keeps_status_and_code_for_people() {
        let e = refused(400, Some("6090"));
        assert_eq!(
            e.to_string(),
            "HTTP 400, ErrorCode 6090: a title the translation never reads"
        );
    }

    fn dkk(value: i64) -> Amount {
        Amount {
            currency: Currency::Dkk,
            value,
        }
    }

    fn aggregate(authorized: i64, cancelled: i64, captured: i64, refunded: i64) -> Aggregate {
        Aggregate {
            authorized_amount: dkk(authorized),
            cancelled_amount: dkk(cancelled),
            captured_amount: dkk(captured),
            refunded_amount: dkk(refunded),
        }
    }

    #[test]
    fn states_and_aggregates_say_what_the_money_does() {
        let amount = dkk(1500);
        let state = |s: State, agg: Aggregate| payment_state(&s, &amount, &agg);
        assert_eq!(
            state(State::Created, aggregate(0, 0, 0, 0)),
            PaymentState::WaitingForCustomer
        );
        let reserved = state(State::Authorized, aggregate(1500, 0, 0, 0));
        assert!(reserved.is_reserved());
        let captured = state(State::Authorized, aggregate(1500, 500, 1000, 200));
        assert_eq!(
            captured,
            PaymentState::Authorized(Amounts {
                authorized: Minor(1500),
                captured: Minor(1000),
                cancelled: Minor(500),
                refunded: Minor(200),
            })
        );
        assert!(captured.is_ended());
        assert_eq!(
            state(State::Aborted, aggregate(0, 0, 0, 0)),
            PaymentState::Declined(Decliner::Customer)
        );
        assert_eq!(
            state(State::Expired, aggregate(0, 0, 0, 0)),
            PaymentState::Expired
        );
        assert_eq!(
            state(State::Terminated, aggregate(0, 1500, 0, 0)),
            PaymentState::Cancelled
        );
        assert_eq!(
            state(State::Other("PENDING".into()), aggregate(0, 0, 0, 0)),
            PaymentState::Unrecognised("PENDING".into())
        );
        let mut foreign = aggregate(1500, 0, 0, 0);
        foreign.captured_amount.currency = Currency::Nok;
        assert!(matches!(
            state(State::Authorized, foreign),
            PaymentState::Unrecognised(_)
        ));
        assert!(matches!(
            state(State::Authorized, aggregate(1500, 0, -1, 0)),
            PaymentState::Unrecognised(_)
        ));
    }
}
