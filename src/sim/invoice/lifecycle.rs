//! An invoice's states and which moves between them are allowed (§2.9): `created` →
//! `accepted` | `paid` | `canceled` | `expired` | `rejected` (InvoiceDirect only); `accepted`
//! → `paid` | `canceled` | `expired` | `rejected`. An InvoiceLink is only rejected after it
//! was accepted. There is no partial payment.

use super::input::Kind;
use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Accepted,
    Paid,
    Canceled,
    Expired,
    Rejected,
}

impl fmt::Display for Status {
    /// Lowercase, as the reference's status table and the `GET …/status` examples of the docs
    /// write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Status::Created => "created",
            Status::Accepted => "accepted",
            Status::Paid => "paid",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
        };
        f.write_str(text)
    }
}

impl Status {
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Created | Status::Accepted)
    }

    /// The user may pay or schedule (again) until the invoice is final.
    pub fn payable(self) -> bool {
        !self.is_final()
    }

    pub fn rejectable(self, kind: Kind) -> bool {
        match kind {
            Kind::Direct => !self.is_final(),
            Kind::Link => self == Status::Accepted,
        }
    }

    /// The merchant may cancel anything not final, a scheduled (`accepted`) invoice included.
    pub fn cancelable(self) -> bool {
        !self.is_final()
    }
}

/// Days after `DueDate` the invoice can still be paid; it expires when the last of them ends.
pub const GRACE_DAYS: u64 = 30;

/// The last day a payment may be scheduled for: `DueDate` + 30 days.
pub fn last_payment_day(due: NaiveDate) -> NaiveDate {
    due.checked_add_days(Days::new(GRACE_DAYS))
        .unwrap_or(NaiveDate::MAX)
}

/// The first day on which an unpaid invoice is `expired`.
pub fn expiry_day(due: NaiveDate) -> NaiveDate {
    last_payment_day(due).succ_opt().unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_rejected_only_after_acceptance() {
        assert!(Status::Created.rejectable(Kind::Direct));
        assert!(!Status::Created.rejectable(Kind::Link));
        assert!(Status::Accepted.rejectable(Kind::Link));
        assert!(!Status::Paid.rejectable(Kind::Direct));
    }

    #[test]
    fn final_states_allow_nothing() {
        for s in [Status::Paid, Status::Canceled, Status::Expired, Status::Rejected] {
            assert!(s.is_final() && !s.payable() && !s.cancelable());
        }
        assert!(Status::Accepted.cancelable() && Status::Accepted.payable());
    }

    #[test]
    fn expiry_is_the_day_after_due_date_plus_thirty() {
        let due = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        assert_eq!(
            last_payment_day(due),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
        assert_eq!(expiry_day(due), NaiveDate::from_ymd_opt(2026, 3, 3).unwrap());
    }
}
