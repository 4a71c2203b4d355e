//! PoS V10's words in the engine's vocabulary: the error-code table (reference §14) and the
//! payment and refund status mapping (§12.3, §13.3). Codes the table does not know become the
//! generic refusal of their kind (a 409 is about the payment's state, a 400 about the
//! request), so a new MobilePay code is never mistaken for a specific rule.

use super::error::{codes, ApiError, MobilePayError};
use super::model::{PaymentStatus, RefundStatus};
use crate::engine::backend::{Amounts, BackendError, Decliner, PaymentState, RefundState, Refusal};
use crate::money::Minor;

/// The refusal a PoS V10 error code stands for; `conflict` tells a 409 from a 400.
pub fn refusal(code: &str, conflict: bool) -> Refusal {
    match code {
        codes::POS_NOT_FOUND => Refusal::UnknownPointOfSale,
        codes::PAYMENT_NOT_FOUND => Refusal::UnknownPayment,
        codes::STORE_NOT_ACTIVATED => Refusal::StoreNotActivated,
        codes::PAYMENT_CANNOT_BE_CANCELLED => Refusal::NotCancellable,
        codes::PAYMENT_ALREADY_ACTIVE => Refusal::PointOfSaleBusy,
        codes::PAYMENT_NOT_PREPARED => Refusal::NotCheckedIn,
        codes::PAYMENT_NOT_RESERVED => Refusal::NotCapturable,
        codes::CAPTURE_EXCEEDS_RESERVED => Refusal::AmountAboveReserved,
        codes::IDEMPOTENCY_KEY_REUSED => Refusal::KeyReused,
        codes::CAPTURED_WITH_OTHER_AMOUNT => Refusal::CapturedWithOtherAmount,
        codes::PARTIAL_CAPTURE_NOT_POSSIBLE => Refusal::PartialCaptureNotAllowed,
        codes::REFUND_NOT_RESERVED | codes::REFUND_CANNOT_BE_CANCELLED => Refusal::RefundStateChanged,
        "1102" => Refusal::InvalidAmount,
        "1113" => Refusal::InvalidOrderId,
        "1114" => Refusal::InvalidRefundOrderId,
        "1117" => Refusal::InvalidLabel,
        "1354" => Refusal::NotCaptured,
        "1365" => Refusal::CurrencyMismatch,
        "1366" => Refusal::PaymentTooOld,
        codes::REFUND_AMOUNT_TOO_HIGH => Refusal::AmountAboveRefundable,
        "1368" => Refusal::InsufficientBalance,
        _ if conflict => Refusal::StateConflict,
        _ => Refusal::Invalid,
    }
}

fn code_of(error: &MobilePayError) -> String {
    error.code.clone().unwrap_or_default()
}

/// A client error in the engine's terms. The `detail` keeps MobilePay's code and message for
/// people reading the outcome or the log.
pub fn error(error: ApiError) -> BackendError {
    let refused = |conflict: bool, code: String, message: Option<String>| {
        let kind = if conflict { "conflict" } else { "bad request" };
        BackendError::Refused {
            reason: refusal(&code, conflict),
            detail: format!("{kind} {code}: {}", message.unwrap_or_default()),
        }
    };
    match error {
        ApiError::Conflict { error, .. } => refused(true, code_of(&error), error.message),
        ApiError::BadRequest { error, .. } => refused(false, code_of(&error), error.message),
        ApiError::UnexpectedStatus { status, error, .. } => refused(
            false,
            error.code.unwrap_or_else(|| status.to_string()),
            error.message,
        ),
        ApiError::NotFound { .. } => BackendError::NotFound,
        ApiError::Forbidden { error, .. } => BackendError::Forbidden {
            detail: code_of(&error),
        },
        ApiError::Unauthorized { .. } | ApiError::Token(_) => BackendError::Unauthorized,
        ApiError::ServerError { error, status, .. } => BackendError::Server {
            detail: error.code.unwrap_or_else(|| status.to_string()),
        },
        // A 2xx we could not read did take effect: treat it as a lost answer, so the engine
        // repeats (with the same key) or re-queries instead of guessing.
        ApiError::NoAnswer { .. } | ApiError::InvalidAnswer { .. } => BackendError::NoAnswer,
    }
}

/// A payment status in the engine's words. V10 reports only the payment's amount, so a
/// captured payment reads as captured in full (the engine keeps the amount it captured); a
/// reserved or captured payment without a readable amount is not understood (polled again).
pub fn payment_state(status: &PaymentStatus, amount: Option<Minor>) -> PaymentState {
    match (status, amount) {
        (PaymentStatus::Prepared | PaymentStatus::Initiated, _) => PaymentState::WaitingForCustomer,
        (PaymentStatus::Paired, _) => PaymentState::CheckedIn,
        (PaymentStatus::IssuedToUser, _) => PaymentState::CustomerIdentified,
        (PaymentStatus::Reserved, Some(amount)) => PaymentState::Authorized(Amounts {
            authorized: amount,
            ..Amounts::default()
        }),
        (PaymentStatus::Captured, Some(amount)) => PaymentState::Authorized(Amounts {
            authorized: amount,
            captured: amount,
            ..Amounts::default()
        }),
        (PaymentStatus::Reserved | PaymentStatus::Captured, None) => {
            PaymentState::Unrecognised(format!("{status} without an amount"))
        }
        (PaymentStatus::CancelledByUser, _) => PaymentState::Declined(Decliner::Customer),
        (PaymentStatus::CancelledByMobilePay, _) => PaymentState::Declined(Decliner::Backend),
        (PaymentStatus::ExpiredAndCancelled, _) => PaymentState::Expired,
        (PaymentStatus::CancelledByClient, _) => PaymentState::Cancelled,
        (PaymentStatus::Unknown(other), _) => PaymentState::Unrecognised(other.clone()),
    }
}

/// A refund status in the engine's words. V10 pays a reserved refund out after 24 h even
/// without our capture, so "expired and captured" is paid out too.
pub fn refund_state(status: &RefundStatus) -> RefundState {
    match status {
        RefundStatus::Initiated => RefundState::Pending,
        RefundStatus::Reserved => RefundState::AwaitingConfirmation,
        RefundStatus::Captured | RefundStatus::ExpiredAndCaptured => RefundState::PaidOut,
        RefundStatus::CancelledByMobilePay => RefundState::CancelledByBackend,
        RefundStatus::CancelledByClient => RefundState::Cancelled,
        RefundStatus::Unknown(other) => RefundState::Unrecognised(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_become_the_generic_refusal_of_their_kind() {
        assert_eq!(refusal("1301", true), Refusal::PointOfSaleBusy);
        assert_eq!(refusal("1351", true), Refusal::RefundStateChanged);
        assert_eq!(refusal("1352", true), Refusal::RefundStateChanged);
        assert_eq!(refusal("1999", true), Refusal::StateConflict);
        assert_eq!(refusal("1999", false), Refusal::Invalid);
    }

    #[test]
    fn statuses_say_what_the_money_does() {
        let amount = Some(Minor(1500));
        assert!(payment_state(&PaymentStatus::Reserved, amount).is_reserved());
        let captured = payment_state(&PaymentStatus::Captured, amount);
        assert!(captured.is_ended() && !captured.is_reserved());
        assert!(matches!(
            payment_state(&PaymentStatus::Reserved, None),
            PaymentState::Unrecognised(_)
        ));
        assert!(payment_state(&PaymentStatus::Paired, None).is_open());
        assert_eq!(
            refund_state(&RefundStatus::ExpiredAndCaptured),
            RefundState::PaidOut
        );
    }

    #[test]
    fn refusal_details_keep_mobilepays_code_for_people() {
        let e = error(ApiError::Conflict {
            endpoint: "capturePayment",
            error: MobilePayError {
                code: Some("1305".into()),
                message: Some("too much".into()),
                ..MobilePayError::default()
            },
        });
        assert_eq!(e.refusal(), Some(Refusal::AmountAboveReserved));
        assert_eq!(e.to_string(), "conflict 1305: too much");
    }
}
