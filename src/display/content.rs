//! Turns a [`Screen`] into what is to be shown: the QR payload, an icon and a few lines of
//! text with their role. Layout and drawing never look at the screen itself, so every screen
//! gets the same treatment on every panel size.

use super::language::{format_amount, phrase, Language, Phrase};
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
        };
        Content { qr, icon, lines }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
