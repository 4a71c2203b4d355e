//! The customer-facing wording in Danish, Finnish and English, and amount formatting as
//! customers in each country expect to read it.
//!
//! Every string here must be drawable with the ISO 8859-15 fonts of embedded-graphics (which
//! hold æ ø å ä ö and €); a unit test checks that no character falls back to a replacement
//! glyph.

use super::screen::{Reason, StaffHint};
use crate::money::{Currency, Minor};
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Display language, chosen in the configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Da,
    Fi,
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Da, Language::Fi, Language::En];

    pub fn code(self) -> &'static str {
        match self {
            Language::Da => "da",
            Language::Fi => "fi",
            Language::En => "en",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "da" => Ok(Language::Da),
            "fi" => Ok(Language::Fi),
            "en" => Ok(Language::En),
            other => Err(format!(
                "unknown display language {other:?} (expected da, fi or en)"
            )),
        }
    }
}

/// A fixed phrase shown on a screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phrase {
    Closed,
    TillClosed,
    Welcome,
    PayWithMobilePay,
    ScanWithMobilePay,
    LoadingCode,
    CodeUnavailable,
    ToPay,
    CheckedIn,
    ApproveInApp,
    PleaseWait,
    Approved,
    ThankYou,
    Declined,
    Cancelled,
    RefundInProgress,
    RefundDone,
    RefundGoesToApp,
    PayAnotherWay,
    ScanInvoice,
    /// Followed by the due date.
    PayBy,
    ApproveInvoiceInApp,
    /// Followed by the masked phone number.
    SentTo,
    PaymentScheduled,
    /// Followed by the scheduled payment's date.
    PaidOn,
    InvoiceSent,
    /// Followed by the amount of a sign-up's first payment.
    FirstPayment,
    ScanAndAccept,
    /// Followed by the time the agreement must be accepted by.
    ScanAndAcceptBy,
    AgreementAccepted,
    TakingFirstPayment,
    WelcomeAboard,
    SignedUp,
    SignUpNotCompleted,
    Because(Reason),
    Staff(StaffHint),
}

impl Phrase {
    /// Every phrase, for tests that must cover all wording.
    pub fn all() -> Vec<Phrase> {
        let mut all = vec![
            Phrase::Closed,
            Phrase::TillClosed,
            Phrase::Welcome,
            Phrase::PayWithMobilePay,
            Phrase::ScanWithMobilePay,
            Phrase::LoadingCode,
            Phrase::CodeUnavailable,
            Phrase::ToPay,
            Phrase::CheckedIn,
            Phrase::ApproveInApp,
            Phrase::PleaseWait,
            Phrase::Approved,
            Phrase::ThankYou,
            Phrase::Declined,
            Phrase::Cancelled,
            Phrase::RefundInProgress,
            Phrase::RefundDone,
            Phrase::RefundGoesToApp,
            Phrase::PayAnotherWay,
            Phrase::ScanInvoice,
            Phrase::PayBy,
            Phrase::ApproveInvoiceInApp,
            Phrase::SentTo,
            Phrase::PaymentScheduled,
            Phrase::PaidOn,
            Phrase::InvoiceSent,
            Phrase::FirstPayment,
            Phrase::ScanAndAccept,
            Phrase::ScanAndAcceptBy,
            Phrase::AgreementAccepted,
            Phrase::TakingFirstPayment,
            Phrase::WelcomeAboard,
            Phrase::SignedUp,
            Phrase::SignUpNotCompleted,
        ];
        all.extend(REASONS.iter().map(|r| Phrase::Because(*r)));
        all.extend(HINTS.iter().map(|h| Phrase::Staff(*h)));
        all
    }
}

pub const REASONS: [Reason; 8] = [
    Reason::RejectedByCustomer,
    Reason::TimedOut,
    Reason::CancelledByStaff,
    Reason::RefusedByMobilePay,
    Reason::InvoiceExpired,
    Reason::FirstPaymentFailed,
    Reason::AskTheCashier,
    Reason::Other,
];

pub const HINTS: [StaffHint; 6] = [
    StaffHint::CheckNetwork,
    StaffHint::MobilePayUnavailable,
    StaffHint::CheckConfiguration,
    StaffHint::CheckCashRegister,
    StaffHint::Recovering,
    StaffHint::NeedsAttention,
];

/// The wording of `phrase` in `language`.
pub fn phrase(language: Language, phrase: Phrase) -> &'static str {
    use Language::*;
    use Phrase::*;
    let [da, fi, en] = match phrase {
        Closed => ["Lukket", "Suljettu", "Closed"],
        TillClosed => ["Kassen er lukket", "Kassa on suljettu", "This till is closed"],
        Welcome => ["Velkommen", "Tervetuloa", "Welcome"],
        PayWithMobilePay => ["Betal med MobilePay", "Maksa MobilePaylla", "Pay with MobilePay"],
        ScanWithMobilePay => [
            "Scan koden med MobilePay",
            "Skannaa koodi MobilePaylla",
            "Scan the code with MobilePay",
        ],
        LoadingCode => [
            "Henter QR-koden...",
            "QR-koodia haetaan...",
            "Loading the QR code...",
        ],
        CodeUnavailable => [
            "QR-koden kan ikke vises. Spørg ved kassen",
            "QR-koodia ei voi näyttää. Kysy kassalta",
            "The QR code cannot be shown. Please ask the cashier",
        ],
        ToPay => ["At betale", "Maksettavaa", "To pay"],
        CheckedIn => [
            "Du er tjekket ind",
            "Olet kirjautunut sisään",
            "You are checked in",
        ],
        ApproveInApp => [
            "Godkend betalingen i MobilePay",
            "Hyväksy maksu MobilePayssa",
            "Approve the payment in MobilePay",
        ],
        PleaseWait => ["Vent et øjeblik", "Odota hetki", "Please wait a moment"],
        Approved => ["Betaling godkendt", "Maksu hyväksytty", "Payment approved"],
        ThankYou => ["Tak for handlen!", "Kiitos käynnistä!", "Thank you!"],
        Declined => ["Betaling afvist", "Maksu hylätty", "Payment declined"],
        Cancelled => ["Betaling annulleret", "Maksu peruttu", "Payment cancelled"],
        RefundInProgress => [
            "Refundering i gang",
            "Palautus käsittelyssä",
            "Refund in progress",
        ],
        RefundDone => ["Beløbet er refunderet", "Rahat on palautettu", "Refund completed"],
        RefundGoesToApp => [
            "Pengene går tilbage til din MobilePay",
            "Rahat palautetaan MobilePayhin",
            "The money goes back to your MobilePay",
        ],
        PayAnotherWay => [
            "Betal venligst på anden måde",
            "Maksa toisella tavalla",
            "Please pay another way",
        ],
        ScanInvoice => [
            "Scan fakturaen med MobilePay",
            "Skannaa lasku MobilePaylla",
            "Scan the invoice with MobilePay",
        ],
        PayBy => ["Betal senest", "Maksa viimeistään", "Please pay by"],
        ApproveInvoiceInApp => [
            "Godkend fakturaen i din MobilePay-app",
            "Hyväksy lasku MobilePay-sovelluksessasi",
            "Approve the invoice in your MobilePay app",
        ],
        SentTo => ["Sendt til", "Lähetetty numeroon", "Sent to"],
        PaymentScheduled => ["Betaling planlagt", "Maksu ajastettu", "Payment scheduled"],
        PaidOn => ["Betales den", "Maksetaan", "To be paid on"],
        InvoiceSent => ["Fakturaen er sendt", "Lasku on lähetetty", "Invoice sent"],
        FirstPayment => ["Første betaling", "Aloitusmaksu", "First payment"],
        ScanAndAccept => [
            "Scan og godkend i MobilePay",
            "Skannaa ja hyväksy MobilePaylla",
            "Scan and accept in MobilePay",
        ],
        ScanAndAcceptBy => [
            "Scan og godkend inden kl.",
            "Skannaa ja hyväksy viimeistään klo",
            "Scan and accept by",
        ],
        AgreementAccepted => [
            "Aftalen er godkendt",
            "Sopimus on hyväksytty",
            "Agreement accepted",
        ],
        TakingFirstPayment => [
            "Den første betaling trækkes...",
            "Aloitusmaksua veloitetaan...",
            "Taking the first payment...",
        ],
        WelcomeAboard => ["Velkommen!", "Tervetuloa!", "Welcome!"],
        SignedUp => ["Du er nu tilmeldt", "Liittyminen onnistui", "You are signed up"],
        SignUpNotCompleted => [
            "Tilmelding ikke gennemført",
            "Liittyminen ei onnistunut",
            "Sign-up not completed",
        ],
        Because(Reason::RejectedByCustomer) => [
            "Afvist i MobilePay-appen",
            "Hylätty MobilePay-sovelluksessa",
            "Rejected in the MobilePay app",
        ],
        Because(Reason::TimedOut) => [
            "Tiden løb ud. Prøv igen",
            "Aika loppui. Yritä uudelleen",
            "Time ran out. Please try again",
        ],
        Because(Reason::CancelledByStaff) => [
            "Annulleret ved kassen",
            "Peruttu kassalla",
            "Cancelled at the till",
        ],
        Because(Reason::RefusedByMobilePay) => [
            "Afvist af MobilePay. Betal på anden måde",
            "MobilePay hylkäsi maksun. Maksa toisella tavalla",
            "Refused by MobilePay. Please pay another way",
        ],
        Because(Reason::InvoiceExpired) => [
            "Fakturaen er udløbet",
            "Lasku on vanhentunut",
            "The invoice has expired",
        ],
        Because(Reason::FirstPaymentFailed) => [
            "Den første betaling blev afvist",
            "Aloitusmaksu hylättiin",
            "The first payment was declined",
        ],
        Because(Reason::AskTheCashier) => ["Spørg ved kassen", "Kysy kassalta", "Please ask the cashier"],
        Because(Reason::Other) => [
            "Prøv igen eller betal på anden måde",
            "Yritä uudelleen tai maksa toisella tavalla",
            "Try again or pay another way",
        ],
        Staff(StaffHint::CheckNetwork) => [
            "Personale: tjek netværksforbindelsen",
            "Henkilökunta: tarkista verkkoyhteys",
            "Staff: check the network connection",
        ],
        Staff(StaffHint::MobilePayUnavailable) => [
            "Personale: MobilePay svarer ikke",
            "Henkilökunta: MobilePay ei vastaa",
            "Staff: MobilePay is not responding",
        ],
        Staff(StaffHint::CheckConfiguration) => [
            "Personale: tjek opsætningen af terminalen",
            "Henkilökunta: tarkista päätteen asetukset",
            "Staff: check the terminal configuration",
        ],
        Staff(StaffHint::CheckCashRegister) => [
            "Personale: tjek forbindelsen til kassen",
            "Henkilökunta: tarkista kassan yhteys",
            "Staff: check the cash register connection",
        ],
        Staff(StaffHint::NeedsAttention) => [
            "Personale: se terminalens log",
            "Henkilökunta: katso päätteen loki",
            "Staff: see the terminal's log",
        ],
        Staff(StaffHint::Recovering) => [
            "Personale: terminalen genopretter betalinger",
            "Henkilökunta: pääte palauttaa maksuja",
            "Staff: the terminal is recovering payments",
        ],
    };
    match language {
        Da => da,
        Fi => fi,
        En => en,
    }
}

/// Formats an amount the way a customer in `language`'s country reads prices:
/// `1.234,50 kr.` (Danish), `1 234,50 €` (Finnish), `DKK 1,234.50` (English).
pub fn format_amount(amount: Minor, currency: Currency, language: Language) -> String {
    let (group, decimal) = match language {
        Language::Da => ('.', ','),
        Language::Fi => (' ', ','),
        Language::En => (',', '.'),
    };
    let sign = if amount.0 < 0 { "-" } else { "" };
    let abs = amount.0.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(digit);
    }
    let number = format!("{sign}{grouped}{decimal}{:02}", abs % 100);
    match (language, currency) {
        (Language::Da, Currency::DKK) => format!("{number} kr."),
        (Language::En, Currency::DKK) => format!("DKK {number}"),
        (Language::En, Currency::EUR) => format!("€{number}"),
        (_, Currency::EUR) => format!("{number} €"),
        (Language::Fi, Currency::DKK) => format!("{number} DKK"),
    }
}

/// Formats a date the way a customer in `language`'s country reads it: `31.12.2026` (Danish
/// and Finnish, day and month without leading zeros: `1.2.2026`), `31 Dec 2026` (English, the
/// month named so that neither day-first nor month-first readers can mistake it).
pub fn format_date(date: NaiveDate, language: Language) -> String {
    let pattern = match language {
        Language::Da | Language::Fi => "%-d.%-m.%Y",
        Language::En => "%-d %b %Y",
    };
    date.format(pattern).to_string()
}

/// Formats a wall-clock time as customers in `language`'s country write it: `14.35` (Danish
/// and Finnish, the hour without a leading zero: `9.05`), `14:35` (English, 24 hours: no
/// "am" or "pm" to misread).
pub fn format_time(time: NaiveTime, language: Language) -> String {
    let pattern = match language {
        Language::Da | Language::Fi => "%-H.%M",
        Language::En => "%H:%M",
    };
    time.format(pattern).to_string()
}

/// A recurring price with how often it is due, written as prices are on a shop's sign:
/// `99,00 kr./md.`, `9,90 €/kk`, `€9.90/month`. The period is short, so the price keeps its
/// size on the amount line. A flexible schedule (`None`, or a count MobilePay does not
/// know) gives the price alone: each payment's amount is that price, the day is open.
pub fn format_price(
    price: Minor,
    currency: Currency,
    payments_per_year: Option<u32>,
    language: Language,
) -> String {
    let amount = format_amount(price, currency, language);
    let [da, fi, en] = match payments_per_year {
        Some(1) => ["år", "v", "year"],
        Some(2) => ["halvår", "6 kk", "6 months"],
        Some(4) => ["kvt.", "3 kk", "quarter"],
        Some(12) => ["md.", "kk", "month"],
        Some(26) => ["2 uger", "2 vk", "2 weeks"],
        Some(52) => ["uge", "vk", "week"],
        Some(365) => ["dag", "pv", "day"],
        _ => return amount,
    };
    let per = match language {
        Language::Da => da,
        Language::Fi => fi,
        Language::En => en,
    };
    format!("{amount}/{per}")
}

/// "Signed up for the plan", the plan's name as the cash register gave it (Finnish names it
/// after a colon, so that no case ending is needed).
pub fn signed_up_to(language: Language, plan: &str) -> String {
    match language {
        Language::Da => format!("Du er nu tilmeldt {plan}"),
        Language::Fi => format!("Liittyminen onnistui: {plan}"),
        Language::En => format!("You are signed up for {plan}"),
    }
}

/// A phrase followed by a value (a date, a phone number): `Betal senest 31.12.2026`.
pub fn phrase_with(language: Language, p: Phrase, value: &str) -> String {
    format!("{} {value}", phrase(language, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::mono_font::iso_8859_15::FONT_6X10;

    #[test]
    fn amounts_read_as_customers_expect() {
        let m = |v| Minor(v);
        assert_eq!(
            format_amount(m(123_450), Currency::DKK, Language::Da),
            "1.234,50 kr."
        );
        assert_eq!(format_amount(m(5), Currency::DKK, Language::Da), "0,05 kr.");
        assert_eq!(
            format_amount(m(123_450), Currency::EUR, Language::Fi),
            "1 234,50 €"
        );
        assert_eq!(
            format_amount(m(100_000_000), Currency::DKK, Language::En),
            "DKK 1,000,000.00"
        );
        assert_eq!(format_amount(m(4995), Currency::EUR, Language::En), "€49.95");
        assert_eq!(
            format_amount(m(99_999), Currency::DKK, Language::Fi),
            "999,99 DKK"
        );
    }

    #[test]
    fn dates_read_as_customers_expect() {
        let new_year = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let early = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
        assert_eq!(format_date(new_year, Language::Da), "31.12.2026");
        assert_eq!(format_date(new_year, Language::Fi), "31.12.2026");
        assert_eq!(format_date(new_year, Language::En), "31 Dec 2026");
        assert_eq!(format_date(early, Language::Da), "1.2.2027");
        assert_eq!(format_date(early, Language::Fi), "1.2.2027");
        assert_eq!(format_date(early, Language::En), "1 Feb 2027");
        assert_eq!(
            phrase_with(Language::Fi, Phrase::PayBy, &format_date(early, Language::Fi)),
            "Maksa viimeistään 1.2.2027"
        );
    }

    #[test]
    fn times_and_recurring_prices_read_as_customers_expect() {
        let morning = NaiveTime::from_hms_opt(9, 5, 59).unwrap();
        let afternoon = NaiveTime::from_hms_opt(14, 35, 0).unwrap();
        assert_eq!(format_time(morning, Language::Da), "9.05");
        assert_eq!(format_time(afternoon, Language::Fi), "14.35");
        assert_eq!(format_time(morning, Language::En), "09:05");
        assert_eq!(
            phrase_with(
                Language::Da,
                Phrase::ScanAndAcceptBy,
                &format_time(afternoon, Language::Da)
            ),
            "Scan og godkend inden kl. 14.35"
        );
        let price = |per, currency, language| format_price(Minor(9_900), currency, per, language);
        assert_eq!(price(Some(12), Currency::DKK, Language::Da), "99,00 kr./md.");
        assert_eq!(price(Some(12), Currency::EUR, Language::Fi), "99,00 €/kk");
        assert_eq!(price(Some(4), Currency::EUR, Language::Fi), "99,00 €/3 kk");
        assert_eq!(price(Some(1), Currency::EUR, Language::En), "€99.00/year");
        assert_eq!(price(Some(26), Currency::DKK, Language::En), "DKK 99.00/2 weeks");
        // A flexible schedule, or a count MobilePay does not offer: the price alone.
        assert_eq!(price(None, Currency::DKK, Language::Da), "99,00 kr.");
        assert_eq!(price(Some(3), Currency::DKK, Language::Da), "99,00 kr.");
        // Every period MobilePay offers has a word in every language.
        for per in [1, 2, 4, 12, 26, 52, 365] {
            for language in Language::ALL {
                let text = price(Some(per), Currency::DKK, language);
                assert!(text.contains('/'), "{per} {language}: {text}");
            }
        }
        assert_eq!(
            signed_up_to(Language::Fi, "Brødklubben"),
            "Liittyminen onnistui: Brødklubben"
        );
    }

    #[test]
    fn every_phrase_is_drawable_with_the_fonts() {
        let replacement = FONT_6X10.glyph_mapping.index('?');
        for language in Language::ALL {
            for p in Phrase::all() {
                let text = phrase(language, p);
                for c in text.chars() {
                    assert!(
                        c == '?' || FONT_6X10.glyph_mapping.index(c) != replacement,
                        "{c:?} in {text:?} has no glyph"
                    );
                }
            }
        }
        for c in "æøåÆØÅäöÄÖ€".chars() {
            assert_ne!(FONT_6X10.glyph_mapping.index(c), replacement, "{c}");
        }
    }

    #[test]
    fn danish_and_finnish_use_their_letters() {
        assert!(phrase(Language::Da, Phrase::PayAnotherWay).contains('å'));
        assert!(phrase(Language::Da, Phrase::PleaseWait).contains('ø'));
        assert!(phrase(Language::Fi, Phrase::Approved).contains('ä'));
        assert!(phrase(Language::Fi, Phrase::Staff(StaffHint::CheckNetwork)).contains('ö'));
        assert!(phrase(Language::Da, Phrase::Because(Reason::InvoiceExpired)).contains('ø'));
        assert!(phrase(Language::Fi, Phrase::PayBy).contains('ä'));
        assert!(phrase(Language::Da, Phrase::SignUpNotCompleted).contains('ø'));
        assert!(phrase(Language::Fi, Phrase::ScanAndAcceptBy).contains('ä'));
    }

    #[test]
    fn languages_parse_from_config_text() {
        assert_eq!("DA".parse::<Language>(), Ok(Language::Da));
        assert!("sv".parse::<Language>().is_err());
    }
}
