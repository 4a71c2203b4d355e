//! The states of an agreement and of a one-off payment (§3.5, §3.7), how `GET` writes them,
//! and how long a reservation lives.
//!
//! The reference does not document the `status` strings of `GET` (§6). The simulator writes
//! the state names of MobilePay's diagrams and callbacks, spelled per resource as the sources
//! spell them: an agreement is `Canceled` (one L, the agreement diagram and its callback
//! table), a one-off is `Cancelled` (two Ls, the one-off callback table and the 2024 code
//! 70003). A client should compare both spellings case-insensitively.

use crate::sim::clock::Millis;
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AgreementStatus {
    Pending,
    Accepted,
    Rejected,
    Expired,
    Canceled,
}

impl AgreementStatus {
    pub const ALL: [AgreementStatus; 5] = [
        AgreementStatus::Pending,
        AgreementStatus::Accepted,
        AgreementStatus::Rejected,
        AgreementStatus::Expired,
        AgreementStatus::Canceled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AgreementStatus::Pending => "Pending",
            AgreementStatus::Accepted => "Accepted",
            AgreementStatus::Rejected => "Rejected",
            AgreementStatus::Expired => "Expired",
            AgreementStatus::Canceled => "Canceled",
        }
    }

    /// The `status` filter of the list: a state name, case-insensitively; `Active` (the old
    /// docs' word for `Accepted`) and `Cancelled` are read too.
    pub fn parse(text: &str) -> Option<AgreementStatus> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("Active") {
            return Some(AgreementStatus::Accepted);
        }
        if text.eq_ignore_ascii_case("Cancelled") {
            return Some(AgreementStatus::Canceled);
        }
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text))
    }

    /// The merchant cancels a `Pending` or `Accepted` agreement; nothing else.
    pub fn cancelable(self) -> bool {
        matches!(self, AgreementStatus::Pending | AgreementStatus::Accepted)
    }
}

impl fmt::Display for AgreementStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum OneOffStatus {
    Requested,
    Reserved,
    Captured,
    Rejected,
    Expired,
    Cancelled,
}

impl OneOffStatus {
    pub fn name(self) -> &'static str {
        match self {
            OneOffStatus::Requested => "Requested",
            OneOffStatus::Reserved => "Reserved",
            OneOffStatus::Captured => "Captured",
            OneOffStatus::Rejected => "Rejected",
            OneOffStatus::Expired => "Expired",
            OneOffStatus::Cancelled => "Cancelled",
        }
    }

    /// The merchant (or the agreement's end) cancels a one-off that is neither captured nor
    /// final.
    pub fn cancelable(self) -> bool {
        matches!(self, OneOffStatus::Requested | OneOffStatus::Reserved)
    }
}

impl fmt::Display for OneOffStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An uncaptured reservation expires 6 days 23 hours 45 minutes after it was made (since
/// 2023-03-09, §3.7).
pub const RESERVATION_LIFETIME: Millis = ((6 * 24 + 23) * 60 + 45) * 60_000;

/// Refunds are possible for 90 days after the payment was captured (since 2022-05-12, §3.9).
pub const REFUND_WINDOW: Millis = 90 * 24 * 3_600_000;

pub const MINUTE: Millis = 60_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filter_reads_state_names_and_old_spellings() {
        assert_eq!(AgreementStatus::parse("pending"), Some(AgreementStatus::Pending));
        assert_eq!(AgreementStatus::parse("Active"), Some(AgreementStatus::Accepted));
        assert_eq!(
            AgreementStatus::parse("CANCELLED"),
            Some(AgreementStatus::Canceled)
        );
        assert_eq!(AgreementStatus::parse("Paused"), None);
    }

    #[test]
    fn only_pending_and_accepted_agreements_can_be_cancelled() {
        let allowed: Vec<_> = AgreementStatus::ALL
            .into_iter()
            .filter(|s| s.cancelable())
            .collect();
        assert_eq!(allowed, [AgreementStatus::Pending, AgreementStatus::Accepted]);
        assert!(!OneOffStatus::Captured.cancelable() && OneOffStatus::Reserved.cancelable());
    }

    #[test]
    fn a_reservation_lives_six_days_twenty_three_hours_forty_five_minutes() {
        assert_eq!(RESERVATION_LIFETIME, 7 * 24 * 3_600_000 - 15 * 60_000);
    }
}
