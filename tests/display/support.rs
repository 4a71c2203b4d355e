//! Screens, languages and panel sizes every test iterates over.

use chrono::{NaiveDate, NaiveTime};
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::{BackendCode, Language, Look, Reason, Screen, StaffHint};
use mposd::money::{Currency, Minor};

pub const GUID: &str = "CD851CD7-8398-4A03-83C1-391A2F5CB71C";
pub const DIGITS: &str = "123456789012345";
/// The longer of the two forms MobilePay Invoice documents for an invoice link (138
/// characters).
pub const INVOICE_LINK: &str = "https://sandprod-open.mobilepay.dk/usersettings-landing-website/\
     ?token=0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e&countryCode=DK&product=Invoice";

/// The agreement link MobilePay Subscriptions gives a sign-up with a first payment (188
/// characters, a version 10 code).
pub const AGREEMENT_LINK: &str = "https://sandprod-open.mobilepay.dk/subscriptions-landing-website/\
     ?flow=agreement&id=5d3c2b1a-0f9e-4d8c-b7a6-958473625140&countryCode=DK\
     &oneOffPaymentId=7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918";

/// The longest plan name MobilePay takes (30 characters).
pub const LONG_PLAN: &str = "Brødklubbens Familiemedlemskab";

/// A time to accept by whose hour takes two digits.
pub fn accept_by() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 0).unwrap()
}

/// A due date whose day and month take two digits each.
pub fn due_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
}

/// Panel sizes in both orientations.
pub const SIZES: [(u32, u32); 7] = [
    (240, 240),
    (240, 320),
    (320, 240),
    (480, 320),
    (320, 480),
    (800, 480),
    (480, 800),
];

pub fn look(language: Language) -> Look {
    Look {
        language,
        header: "Bageriet Ærø - Kasse 2".into(),
    }
}

/// One of every screen, with the longest texts and largest amounts customers will see.
pub fn all_screens() -> Vec<Screen> {
    let big = Minor(123_456_789);
    let mut screens = vec![
        Screen::Closed,
        Screen::Idle { qr: None },
        Screen::Idle {
            qr: Some(qr_payload(DIGITS)),
        },
        Screen::ScanToPay {
            amount: big,
            currency: Currency::DKK,
            qr: qr_payload(GUID),
        },
        Screen::ScanToPay {
            amount: Minor(4995),
            currency: Currency::EUR,
            qr: qr_payload(DIGITS),
        },
        Screen::CheckedIn { amount: None },
        Screen::CheckedIn {
            amount: Some((big, Currency::EUR)),
        },
        Screen::Approved {
            amount: big,
            currency: Currency::DKK,
        },
        Screen::Refund {
            amount: Minor(4995),
            currency: Currency::DKK,
            done: false,
        },
        Screen::Refund {
            amount: big,
            currency: Currency::EUR,
            done: true,
        },
        Screen::ScanBackendCode {
            amount: big,
            currency: Currency::DKK,
            code: BackendCode::Loading,
        },
        Screen::ScanBackendCode {
            amount: big,
            currency: Currency::EUR,
            code: BackendCode::Unavailable,
        },
        Screen::InvoiceLink {
            amount: big,
            currency: Currency::DKK,
            due_date: due_date(),
            link: INVOICE_LINK.into(),
        },
        // The longest phone number a push can go to: 15 digits.
        Screen::InvoicePushed {
            amount: big,
            currency: Currency::EUR,
            phone: "+•••••••••••4567".into(),
        },
        Screen::InvoiceScheduled {
            amount: big,
            currency: Currency::DKK,
            payment_date: Some(due_date()),
        },
        Screen::InvoiceScheduled {
            amount: big,
            currency: Currency::EUR,
            payment_date: None,
        },
        Screen::InvoiceOutstanding {
            amount: big,
            currency: Currency::EUR,
            due_date: due_date(),
        },
        // A membership's price is not a sale's: the largest recurring price here is
        // 9.999,99 with the longest period word (twice a year); the first payment is as
        // large as any sale.
        Screen::SignUpLink {
            plan: LONG_PLAN.into(),
            price: Some(Minor(999_999)),
            payments_per_year: Some(2),
            first_payment: Some(big),
            currency: Currency::DKK,
            accept_by: Some(accept_by()),
            link: AGREEMENT_LINK.into(),
        },
        Screen::SignUpLink {
            plan: LONG_PLAN.into(),
            price: None,
            payments_per_year: None,
            first_payment: None,
            currency: Currency::EUR,
            accept_by: None,
            link: AGREEMENT_LINK.into(),
        },
        Screen::SignUpAccepted {
            first_payment: Some((big, Currency::EUR)),
        },
        Screen::SignedUp {
            plan: Some(LONG_PLAN.into()),
            first_payment: Some((big, Currency::DKK)),
        },
        Screen::SignedUp {
            plan: None,
            first_payment: None,
        },
    ];
    for reason in [
        Reason::RejectedByCustomer,
        Reason::TimedOut,
        Reason::CancelledByStaff,
        Reason::RefusedByMobilePay,
        Reason::InvoiceExpired,
        Reason::FirstPaymentFailed,
        Reason::AskTheCashier,
        Reason::Other,
    ] {
        screens.push(Screen::Declined { reason });
        screens.push(Screen::Cancelled { reason });
        screens.push(Screen::SignUpEnded { reason });
    }
    for hint in [
        StaffHint::CheckNetwork,
        StaffHint::MobilePayUnavailable,
        StaffHint::CheckConfiguration,
        StaffHint::CheckCashRegister,
        StaffHint::Recovering,
        StaffHint::NeedsAttention,
    ] {
        screens.push(Screen::Offline { hint });
    }
    screens
}
