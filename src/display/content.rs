//! Turns a [`Screen`] into what is to be shown: the QR payload, an icon and a few lines of
//! text with their role. Layout and drawing never look at the screen itself, so every screen
//! gets the same treatment on every panel size.

use super::language::{
    format_amount, format_date, format_price, format_time, phrase, phrase_with, signed_up_to, Language,
    Phrase,
};
use super::qr::{QrError, QrSymbol};
use super::screen::{BackendCode, Screen};
use std::borrow::Cow;

/// A status symbol drawn with primitives (no bitmaps to ship).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    Check,
    Cross,
    Wait,
    Warning,
    Closed,
    /// Not paid yet, due later (an invoice the customer leaves with).
    Later,
    /// Done, paid on a later day (a scheduled invoice): a success, but no tick.
    Scheduled,
}

/// How prominent a line is; the layout gives each role its own box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Title,
    Amount,
    Detail,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub role: Role,
    pub text: String,
}

/// The QR code a screen shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QrSource {
    /// Content the display encodes, verbatim.
    Content(String),
    /// A symbol someone else drew (the payment backend), drawn module for module.
    Symbol(QrSymbol),
}

impl QrSource {
    /// The symbol to draw: encoded from content, or the one given.
    pub fn symbol(&self) -> Result<Cow<'_, QrSymbol>, QrError> {
        match self {
            QrSource::Content(content) => QrSymbol::encode(content).map(Cow::Owned),
            QrSource::Symbol(symbol) => Ok(Cow::Borrowed(symbol)),
        }
    }
}

/// Everything a screen shows, already in the customer's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub qr: Option<QrSource>,
    pub icon: Option<Icon>,
    pub lines: Vec<Line>,
}

impl Content {
    pub fn of(screen: &Screen, language: Language) -> Content {
        let say = |p| phrase(language, p).to_string();
        let line = |role, text: String| Line { role, text };
        let title = |p| line(Role::Title, say(p));
        let detail = |p| line(Role::Detail, say(p));
        let amount = |a, c| line(Role::Amount, format_amount(a, c, language));
        let dated = |p, d| line(Role::Detail, phrase_with(language, p, &format_date(d, language)));
        let (qr, icon, lines) = match screen {
            Screen::Closed => (
                None,
                Some(Icon::Closed),
                vec![title(Phrase::Closed), detail(Phrase::TillClosed)],
            ),
            Screen::Idle { qr: None } => (
                None,
                None,
                vec![title(Phrase::Welcome), detail(Phrase::PayWithMobilePay)],
            ),
            Screen::Idle { qr: Some(qr) } => (
                Some(QrSource::Content(qr.clone())),
                None,
                vec![title(Phrase::PayWithMobilePay), detail(Phrase::ScanWithMobilePay)],
            ),
            Screen::ScanToPay {
                amount: a,
                currency,
                qr,
            } => (
                Some(QrSource::Content(qr.clone())),
                None,
                vec![
                    title(Phrase::ToPay),
                    amount(*a, *currency),
                    detail(Phrase::ScanWithMobilePay),
                ],
            ),
            Screen::ScanBackendCode {
                amount: a,
                currency,
                code,
            } => {
                let (qr, icon, hint) = match code {
                    BackendCode::Loading => (None, Some(Icon::Wait), Phrase::LoadingCode),
                    BackendCode::Ready(symbol) => (
                        Some(QrSource::Symbol(symbol.clone())),
                        None,
                        Phrase::ScanWithMobilePay,
                    ),
                    BackendCode::Unavailable => (None, Some(Icon::Warning), Phrase::CodeUnavailable),
                };
                (
                    qr,
                    icon,
                    vec![title(Phrase::ToPay), amount(*a, *currency), detail(hint)],
                )
            }
            Screen::CheckedIn { amount: None } => (
                None,
                Some(Icon::Wait),
                vec![title(Phrase::CheckedIn), detail(Phrase::PleaseWait)],
            ),
            Screen::CheckedIn { amount: Some((a, c)) } => (
                None,
                Some(Icon::Wait),
                vec![title(Phrase::ApproveInApp), amount(*a, *c)],
            ),
            Screen::Approved { amount: a, currency } => (
                None,
                Some(Icon::Check),
                vec![
                    title(Phrase::Approved),
                    amount(*a, *currency),
                    detail(Phrase::ThankYou),
                ],
            ),
            Screen::Declined { reason } => (
                None,
                Some(Icon::Cross),
                vec![title(Phrase::Declined), detail(Phrase::Because(*reason))],
            ),
            Screen::Cancelled { reason } => (
                None,
                Some(Icon::Cross),
                vec![title(Phrase::Cancelled), detail(Phrase::Because(*reason))],
            ),
            Screen::Refund {
                amount: a,
                currency,
                done,
            } => (
                None,
                Some(if *done { Icon::Check } else { Icon::Wait }),
                vec![
                    title(if *done {
                        Phrase::RefundDone
                    } else {
                        Phrase::RefundInProgress
                    }),
                    amount(*a, *currency),
                    detail(Phrase::RefundGoesToApp),
                ],
            ),
            Screen::Offline { hint } => (
                None,
                Some(Icon::Warning),
                vec![title(Phrase::PayAnotherWay), detail(Phrase::Staff(*hint))],
            ),
            // The title asks for the scan (a square panel drops it for the amount); the due
            // date goes below the code. The same roles as scan-to-pay, so the code gets the
            // same size and the start-up size check holds for invoice links too.
            Screen::InvoiceLink {
                amount: a,
                currency,
                due_date,
                link,
            } => (
                Some(QrSource::Content(link.clone())),
                None,
                vec![
                    title(Phrase::ScanInvoice),
                    amount(*a, *currency),
                    dated(Phrase::PayBy, *due_date),
                ],
            ),
            Screen::InvoicePushed {
                amount: a,
                currency,
                phone,
            } => (
                None,
                Some(Icon::Wait),
                vec![
                    title(Phrase::ApproveInvoiceInApp),
                    amount(*a, *currency),
                    line(
                        Role::Detail,
                        phrase_with(language, Phrase::SentTo, &drawable_phone(phone)),
                    ),
                ],
            ),
            Screen::InvoiceScheduled {
                amount: a,
                currency,
                payment_date,
            } => (
                None,
                Some(Icon::Scheduled),
                vec![
                    title(Phrase::PaymentScheduled),
                    amount(*a, *currency),
                    match payment_date {
                        Some(date) => dated(Phrase::PaidOn, *date),
                        None => detail(Phrase::ThankYou),
                    },
                ],
            ),
            Screen::InvoiceOutstanding {
                amount: a,
                currency,
                due_date,
            } => (
                None,
                Some(Icon::Later),
                vec![
                    title(Phrase::InvoiceSent),
                    amount(*a, *currency),
                    dated(Phrase::PayBy, *due_date),
                ],
            ),
            // The roles of scan-to-pay again, so the agreement's code is sized like a sale's:
            // the plan names what the customer joins (a square panel drops it for the price,
            // as the app shows it before they accept); the first payment and the time to
            // accept by go below the code.
            Screen::SignUpLink {
                plan,
                price,
                payments_per_year,
                first_payment,
                currency,
                accept_by,
                link,
            } => {
                let accept = match accept_by {
                    Some(time) => {
                        phrase_with(language, Phrase::ScanAndAcceptBy, &format_time(*time, language))
                    }
                    None => say(Phrase::ScanAndAccept),
                };
                let hint = match first_payment {
                    Some(a) => {
                        let first = phrase_with(
                            language,
                            Phrase::FirstPayment,
                            &format_amount(*a, *currency, language),
                        );
                        // "49,00 kr." ends its sentence already.
                        let stop = if first.ends_with('.') { "" } else { "." };
                        format!("{first}{stop} {accept}")
                    }
                    None => accept,
                };
                let mut lines = vec![line(Role::Title, plan.clone())];
                if let Some(price) = price {
                    lines.push(line(
                        Role::Amount,
                        format_price(*price, *currency, *payments_per_year, language),
                    ));
                }
                lines.push(line(Role::Detail, hint));
                (Some(QrSource::Content(link.clone())), None, lines)
            }
            Screen::SignUpAccepted { first_payment } => (
                None,
                Some(Icon::Wait),
                match first_payment {
                    Some((a, c)) => vec![
                        title(Phrase::AgreementAccepted),
                        amount(*a, *c),
                        detail(Phrase::TakingFirstPayment),
                    ],
                    None => vec![title(Phrase::AgreementAccepted), detail(Phrase::PleaseWait)],
                },
            ),
            Screen::SignedUp { plan, first_payment } => {
                let mut lines = vec![title(Phrase::WelcomeAboard)];
                if let Some((a, c)) = first_payment {
                    lines.push(amount(*a, *c));
                }
                lines.push(match plan {
                    Some(plan) => line(Role::Detail, signed_up_to(language, plan)),
                    None => detail(Phrase::SignedUp),
                });
                (None, Some(Icon::Check), lines)
            }
            Screen::SignUpEnded { reason } => (
                None,
                Some(Icon::Cross),
                vec![
                    title(Phrase::SignUpNotCompleted),
                    detail(Phrase::Because(*reason)),
                ],
            ),
        };
        Content { qr, icon, lines }
    }
}

/// A masked phone number in characters the fonts have: the engine hides digits behind `•`,
/// which ISO 8859-15 lacks (it would be drawn as `?`), so every mask character becomes `*`.
fn drawable_phone(phone: &str) -> String {
    phone
        .chars()
        .map(|c| match c {
            '0'..='9' | '+' | ' ' => c,
            _ => '*',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::screen::Reason;
    use crate::money::{Currency, Minor};

    #[test]
    fn scan_to_pay_encodes_its_qr_content_verbatim() {
        // Case and all: the backend decides what the code says, the display only draws it.
        let qr = "https://pay.example/Q?id=CD851CD7&source=qr";
        let screen = Screen::ScanToPay {
            amount: Minor(4995),
            currency: Currency::DKK,
            qr: qr.into(),
        };
        let content = Content::of(&screen, Language::Da);
        assert_eq!(content.qr, Some(QrSource::Content(qr.into())));
        assert!(content.lines.iter().any(|l| l.text == "49,95 kr."));
        let idle = Screen::Idle { qr: Some(qr.into()) };
        assert_eq!(
            Content::of(&idle, Language::En).qr,
            Some(QrSource::Content(qr.into()))
        );
    }

    #[test]
    fn a_backend_code_is_shown_as_drawn_and_its_absence_explained() {
        let symbol = QrSymbol::encode("https://qr.example/p1").unwrap();
        let with = |code| Screen::ScanBackendCode {
            amount: Minor(4995),
            currency: Currency::DKK,
            code,
        };
        let ready = Content::of(&with(BackendCode::Ready(symbol.clone())), Language::Da);
        assert_eq!(ready.qr, Some(QrSource::Symbol(symbol)));
        assert_eq!(ready.lines[1].text, "49,95 kr.");
        for (code, hint) in [
            (BackendCode::Loading, Phrase::LoadingCode),
            (BackendCode::Unavailable, Phrase::CodeUnavailable),
        ] {
            for language in Language::ALL {
                let content = Content::of(&with(code.clone()), language);
                assert_eq!(content.qr, None);
                let texts: Vec<&str> = content.lines.iter().map(|l| l.text.as_str()).collect();
                assert_eq!(
                    texts,
                    [
                        phrase(language, Phrase::ToPay),
                        &format_amount(Minor(4995), Currency::DKK, language),
                        phrase(language, hint),
                    ]
                );
            }
        }
    }

    fn texts(content: &Content) -> Vec<&str> {
        content.lines.iter().map(|l| l.text.as_str()).collect()
    }

    fn due() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
    }

    #[test]
    fn an_invoice_link_shows_its_code_amount_and_due_date() {
        let link = "https://open.mobilepay.dk/usersettings-landing-website/?token=AbC&product=Invoice";
        let screen = Screen::InvoiceLink {
            amount: Minor(34_900),
            currency: Currency::DKK,
            due_date: due(),
            link: link.into(),
        };
        let da = Content::of(&screen, Language::Da);
        assert_eq!(da.qr, Some(QrSource::Content(link.into())));
        assert_eq!(
            texts(&da),
            [
                "Scan fakturaen med MobilePay",
                "349,00 kr.",
                "Betal senest 31.12.2026"
            ]
        );
        let en = Content::of(&screen, Language::En);
        assert_eq!(en.lines[2].text, "Please pay by 31 Dec 2026");
        // The roles of scan-to-pay: the code is laid out, and sized, exactly like a sale's.
        let sale = Screen::ScanToPay {
            amount: Minor(34_900),
            currency: Currency::DKK,
            qr: link.into(),
        };
        let roles = |c: &Content| c.lines.iter().map(|l| l.role).collect::<Vec<_>>();
        assert_eq!(roles(&da), roles(&Content::of(&sale, Language::Da)));
    }

    #[test]
    fn a_pushed_invoice_names_the_masked_phone_in_drawable_characters() {
        let screen = Screen::InvoicePushed {
            amount: Minor(15_000),
            currency: Currency::EUR,
            phone: "+••••••••4567".into(),
        };
        let fi = Content::of(&screen, Language::Fi);
        assert_eq!(fi.qr, None);
        assert_eq!(fi.icon, Some(Icon::Wait));
        assert_eq!(
            texts(&fi),
            [
                "Hyväksy lasku MobilePay-sovelluksessasi",
                "150,00 €",
                "Lähetetty numeroon +********4567"
            ]
        );
    }

    #[test]
    fn a_scheduled_invoice_is_not_shown_as_paid() {
        let scheduled = |payment_date| Screen::InvoiceScheduled {
            amount: Minor(34_900),
            currency: Currency::DKK,
            payment_date,
        };
        let approved = Content::of(
            &Screen::Approved {
                amount: Minor(34_900),
                currency: Currency::DKK,
            },
            Language::Da,
        );
        let dated = Content::of(&scheduled(Some(due())), Language::Da);
        assert_eq!(dated.icon, Some(Icon::Scheduled));
        assert_ne!(dated.icon, approved.icon);
        assert_eq!(
            texts(&dated),
            ["Betaling planlagt", "349,00 kr.", "Betales den 31.12.2026"]
        );
        assert_ne!(dated.lines[0], approved.lines[0]);
        let undated = Content::of(&scheduled(None), Language::En);
        assert_eq!(texts(&undated), ["Payment scheduled", "DKK 349.00", "Thank you!"]);
    }

    #[test]
    fn an_outstanding_invoice_says_when_it_is_due() {
        let screen = Screen::InvoiceOutstanding {
            amount: Minor(34_900),
            currency: Currency::EUR,
            due_date: due(),
        };
        let content = Content::of(&screen, Language::Fi);
        assert_eq!(content.qr, None);
        assert_eq!(content.icon, Some(Icon::Later));
        assert_eq!(
            texts(&content),
            ["Lasku on lähetetty", "349,00 €", "Maksa viimeistään 31.12.2026"]
        );
    }

    #[test]
    fn invoice_texts_with_dates_and_phones_are_drawable_with_the_fonts() {
        use embedded_graphics::mono_font::iso_8859_15::FONT_6X10;
        let replacement = FONT_6X10.glyph_mapping.index('?');
        let screens = [
            Screen::InvoicePushed {
                amount: Minor(1),
                currency: Currency::DKK,
                phone: "+••••••5678".into(),
            },
            Screen::InvoiceScheduled {
                amount: Minor(1),
                currency: Currency::EUR,
                payment_date: Some(due()),
            },
            Screen::InvoiceOutstanding {
                amount: Minor(1),
                currency: Currency::EUR,
                due_date: due(),
            },
        ];
        for language in Language::ALL {
            for screen in &screens {
                for line in Content::of(screen, language).lines {
                    for c in line.text.chars() {
                        assert_ne!(
                            FONT_6X10.glyph_mapping.index(c),
                            replacement,
                            "{c:?} in {:?} has no glyph",
                            line.text
                        );
                    }
                }
            }
        }
    }

    fn signup(price: Option<Minor>, first_payment: Option<Minor>) -> Screen {
        Screen::SignUpLink {
            plan: "Brødklubben".into(),
            price,
            payments_per_year: Some(12),
            first_payment,
            currency: Currency::DKK,
            accept_by: chrono::NaiveTime::from_hms_opt(14, 35, 0),
            link: "https://landing.example/?flow=agreement&id=agr-1".into(),
        }
    }

    #[test]
    fn a_sign_up_shows_its_code_plan_price_first_payment_and_the_time_to_accept_by() {
        let screen = signup(Some(Minor(9_900)), Some(Minor(4_900)));
        let da = Content::of(&screen, Language::Da);
        assert_eq!(
            da.qr,
            Some(QrSource::Content(
                "https://landing.example/?flow=agreement&id=agr-1".into()
            ))
        );
        assert_eq!(
            texts(&da),
            [
                "Brødklubben",
                "99,00 kr./md.",
                "Første betaling 49,00 kr. Scan og godkend inden kl. 14.35"
            ]
        );
        assert_eq!(
            texts(&Content::of(&screen, Language::En))[2],
            "First payment DKK 49.00. Scan and accept by 14:35"
        );
        // The roles of scan-to-pay: the code is laid out, and sized, exactly like a sale's.
        let sale = Screen::ScanToPay {
            amount: Minor(9_900),
            currency: Currency::DKK,
            qr: "x".into(),
        };
        let roles = |c: &Content| c.lines.iter().map(|l| l.role).collect::<Vec<_>>();
        assert_eq!(roles(&da), roles(&Content::of(&sale, Language::Da)));
        // A variable price and no first payment: the plan and what to do.
        let bare = Content::of(&signup(None, None), Language::Fi);
        assert_eq!(
            texts(&bare),
            ["Brødklubben", "Skannaa ja hyväksy viimeistään klo 14.35"]
        );
    }

    #[test]
    fn a_sign_up_is_welcomed_with_its_first_payment_or_ends_with_a_reason() {
        let accepted = Content::of(
            &Screen::SignUpAccepted {
                first_payment: Some((Minor(4_900), Currency::EUR)),
            },
            Language::Fi,
        );
        assert_eq!(accepted.icon, Some(Icon::Wait));
        assert_eq!(
            texts(&accepted),
            ["Sopimus on hyväksytty", "49,00 €", "Aloitusmaksua veloitetaan..."]
        );
        let welcome = Content::of(
            &Screen::SignedUp {
                plan: Some("Brødklubben".into()),
                first_payment: Some((Minor(4_900), Currency::DKK)),
            },
            Language::Da,
        );
        assert_eq!(welcome.icon, Some(Icon::Check));
        assert_eq!(
            texts(&welcome),
            ["Velkommen!", "49,00 kr.", "Du er nu tilmeldt Brødklubben"]
        );
        let unnamed = Content::of(
            &Screen::SignedUp {
                plan: None,
                first_payment: None,
            },
            Language::En,
        );
        assert_eq!(texts(&unnamed), ["Welcome!", "You are signed up"]);
        let ended = Content::of(
            &Screen::SignUpEnded {
                reason: Reason::FirstPaymentFailed,
            },
            Language::En,
        );
        assert_eq!(ended.icon, Some(Icon::Cross));
        assert_eq!(
            texts(&ended),
            ["Sign-up not completed", "The first payment was declined"]
        );
    }

    #[test]
    fn sign_up_texts_with_plans_prices_and_times_are_drawable_with_the_fonts() {
        use embedded_graphics::mono_font::iso_8859_15::FONT_6X10;
        let replacement = FONT_6X10.glyph_mapping.index('?');
        let mut screens = vec![
            signup(Some(Minor(9_900)), Some(Minor(4_900))),
            Screen::SignUpAccepted {
                first_payment: Some((Minor(1), Currency::EUR)),
            },
            Screen::SignedUp {
                plan: Some("Kaffeklub Æblegården".into()),
                first_payment: Some((Minor(1), Currency::EUR)),
            },
        ];
        for per in [
            None,
            Some(1),
            Some(2),
            Some(4),
            Some(12),
            Some(26),
            Some(52),
            Some(365),
        ] {
            screens.push(Screen::SignUpLink {
                plan: "Brødklubben".into(),
                price: Some(Minor(1)),
                payments_per_year: per,
                first_payment: Some(Minor(1)),
                currency: Currency::EUR,
                accept_by: None,
                link: "x".into(),
            });
        }
        for language in Language::ALL {
            for screen in &screens {
                for line in Content::of(screen, language).lines {
                    for c in line.text.chars() {
                        assert_ne!(
                            FONT_6X10.glyph_mapping.index(c),
                            replacement,
                            "{c:?} in {:?} has no glyph",
                            line.text
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn only_screens_that_invite_a_scan_show_a_qr_code() {
        let approved = Screen::Approved {
            amount: Minor(100),
            currency: Currency::EUR,
        };
        assert_eq!(Content::of(&approved, Language::Fi).qr, None);
        assert_eq!(Content::of(&Screen::Idle { qr: None }, Language::En).qr, None);
    }
}
