//! Turns a [`Screen`] into what is to be shown: the QR payload, an icon and a few lines of
//! text with their role. Layout and drawing never look at the screen itself, so every screen
//! gets the same treatment on every panel size.

use super::language::{format_amount, phrase, Language, Phrase};
use super::screen::Screen;

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

/// Everything a screen shows, already in the customer's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// Exactly what the QR code encodes: the screen's QR content, verbatim.
    pub qr: Option<String>,
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
                Some(qr.clone()),
                None,
                vec![title(Phrase::PayWithMobilePay), detail(Phrase::ScanWithMobilePay)],
            ),
            Screen::ScanToPay {
                amount: a,
                currency,
                qr,
            } => (
                Some(qr.clone()),
                None,
                vec![
                    title(Phrase::ToPay),
                    amount(*a, *currency),
                    detail(Phrase::ScanWithMobilePay),
                ],
            ),
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
        assert_eq!(content.qr.as_deref(), Some(qr));
        assert!(content.lines.iter().any(|l| l.text == "49,95 kr."));
        let idle = Screen::Idle { qr: Some(qr.into()) };
        assert_eq!(Content::of(&idle, Language::En).qr.as_deref(), Some(qr));
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
