//! How much of a payment is left to refund, as far as the journal knows.
//!
//! MobilePay refuses refunds whose sum exceeds the captured amount, but only once the
//! refund is stored, its key spent and the request sent. For a payment this engine took, the
//! journal knows the captured amount and every refund made of it, so such a refund is refused
//! at once, before anything is stored or sent, with what is left. Whatever the journal cannot
//! tell (a payment refunded by order id before it was looked up, a capture it never saw) is
//! left to MobilePay, which stays the judge.

use super::api::{Command, CommandKind, Outcome, RejectCode};
use super::record::Record;
use crate::money::Minor;

/// What is left to refund of the payment `payment_id`: its captured amount (the sum of every
/// capture of it: a reservation may be captured in parts) less the refunds of it that are still
/// running (they may yet be paid out) or were paid out. Refunds that were cancelled or refused
/// took nothing. `None` when the journal holds no capture of the payment.
pub fn left_to_refund<'a>(payment_id: &str, records: impl IntoIterator<Item = &'a Record>) -> Option<Minor> {
    let mut captured: Option<i64> = None;
    let mut refunded = 0i64;
    for record in records {
        if record.payment_id.as_deref() != Some(payment_id) {
            continue;
        }
        match (record.kind(), &record.command, &record.outcome) {
            (
                CommandKind::Pay | CommandKind::Ready | CommandKind::Capture,
                _,
                Some(Outcome::Captured { amount, .. } | Outcome::CapturePending { amount, .. }),
            ) => captured = Some(captured.unwrap_or(0).saturating_add(amount.0)),
            (
                CommandKind::SignUp,
                _,
                Some(Outcome::SignedUp {
                    first_payment: Some(amount),
                    ..
                }),
            ) => captured = Some(captured.unwrap_or(0).saturating_add(amount.0)),
            (CommandKind::Refund, Command::Refund { amount, .. }, outcome) => {
                let counts = !record.is_finished() || matches!(outcome, Some(Outcome::Refunded { .. }));
                if counts {
                    refunded = refunded.saturating_add(amount.0);
                }
            }
            _ => {}
        }
    }
    captured.map(|c| Minor(c.saturating_sub(refunded).max(0)))
}

/// Refuses a refund of `amount` that is more than is left to refund of `payment_id`.
pub fn check<'a>(
    payment_id: &str,
    amount: Minor,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<(), (RejectCode, String)> {
    match left_to_refund(payment_id, records) {
        Some(left) if amount > left => Err((
            RejectCode::RefundTooHigh,
            format!("{amount} is more than the {left} left to refund of this payment"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{CommandId, PaymentSelector};
    use crate::engine::record::Phase;
    use crate::money::Currency;

    fn sale(id: &str, outcome: Option<Outcome>) -> Record {
        let command = Command::Pay {
            amount: Minor(1000),
            currency: Currency::DKK,
            order_id: "o".into(),
            keep_reservation: false,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        };
        let mut record = Record::new(CommandId::new(id).unwrap(), command, "pos".into(), 0);
        record.payment_id = Some("pay-1".into());
        record.outcome = outcome;
        record.phase = Phase::Done;
        record
    }

    fn captured(amount: i64) -> Option<Outcome> {
        Some(Outcome::Captured {
            payment_id: "pay-1".into(),
            amount: Minor(amount),
            currency: Currency::DKK,
        })
    }

    fn refund(id: &str, amount: i64, phase: Phase, outcome: Option<Outcome>) -> Record {
        let command = Command::Refund {
            payment: PaymentSelector::Command(CommandId::new("sale").unwrap()),
            amount: Minor(amount),
            currency: Currency::DKK,
            refund_order_id: format!("r-{id}"),
        };
        let mut record = Record::new(CommandId::new(id).unwrap(), command, "pos".into(), 0);
        record.payment_id = Some("pay-1".into());
        record.phase = phase;
        record.outcome = outcome;
        record
    }

    fn refunded(amount: i64) -> Option<Outcome> {
        Some(Outcome::Refunded {
            refund_id: "ref".into(),
            payment_id: "pay-1".into(),
            amount: Minor(amount),
            currency: Currency::DKK,
        })
    }

    #[test]
    fn paid_out_and_running_refunds_count_cancelled_and_refused_do_not() {
        let records = [
            sale("sale", captured(1000)),
            refund("paid", 300, Phase::Done, refunded(300)),
            refund("running", 200, Phase::PollRefund, None),
            refund(
                "cancelled",
                400,
                Phase::Done,
                Some(Outcome::RefundCancelled {
                    refund_id: None,
                    reason: crate::engine::api::RefundCancelReason::CancelledByCashier,
                }),
            ),
            refund(
                "refused",
                400,
                Phase::Done,
                Some(Outcome::Rejected {
                    code: RejectCode::PaymentTooOld,
                    message: "old".into(),
                }),
            ),
        ];
        assert_eq!(left_to_refund("pay-1", &records), Some(Minor(500)));
        assert_eq!(check("pay-1", Minor(500), &records), Ok(()));
        assert_eq!(
            check("pay-1", Minor(501), &records),
            Err((
                RejectCode::RefundTooHigh,
                "5.01 is more than the 5.00 left to refund of this payment".into()
            ))
        );
        // Other payments' refunds do not count.
        assert_eq!(left_to_refund("pay-2", &records), None);
    }

    #[test]
    fn a_reservation_counts_once_its_capture_command_captured_it() {
        let mut reserved = sale(
            "sale",
            Some(Outcome::Reserved {
                payment_id: "pay-1".into(),
                amount: Minor(1000),
                currency: Currency::DKK,
                partial_capture_possible: true,
            }),
        );
        reserved.command = Command::Pay {
            amount: Minor(1000),
            currency: Currency::DKK,
            order_id: "o".into(),
            keep_reservation: true,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        };
        assert_eq!(left_to_refund("pay-1", [&reserved]), None);
        let mut capture = Record::new(
            CommandId::new("cap").unwrap(),
            Command::Capture {
                target: CommandId::new("sale").unwrap(),
                amount: Some(Minor(600)),
            },
            "pos".into(),
            0,
        );
        capture.payment_id = Some("pay-1".into());
        capture.outcome = Some(Outcome::CapturePending {
            payment_id: "pay-1".into(),
            amount: Minor(600),
            currency: Currency::DKK,
        });
        assert_eq!(left_to_refund("pay-1", [&reserved, &capture]), Some(Minor(600)));
        // A second part of the reservation adds to what may be refunded.
        let mut rest = capture.clone();
        rest.id = CommandId::new("cap-2").unwrap();
        rest.outcome = Some(Outcome::Captured {
            payment_id: "pay-1".into(),
            amount: Minor(300),
            currency: Currency::DKK,
        });
        assert_eq!(
            left_to_refund("pay-1", [&reserved, &capture, &rest]),
            Some(Minor(900))
        );
    }

    #[test]
    fn without_a_known_capture_mobilepay_decides() {
        let records = [
            sale(
                "sale",
                Some(Outcome::Unknown {
                    payment_id: Some("pay-1".into()),
                }),
            ),
            refund("r", 5000, Phase::PollRefund, None),
        ];
        assert_eq!(left_to_refund("pay-1", &records), None);
        assert_eq!(check("pay-1", Minor(1_000_000), &records), Ok(()));
    }
}
