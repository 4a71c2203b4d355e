//! Will customers be able to scan the QR code on this board's panel? The scan-to-pay screen
//! is laid out at the panel's size and the code's printed side is worked out from the
//! panel's physical size, so a too-small panel is reported at start-up, not at the till.

use super::board::BoardProfile;
use super::qr::{code_side_mm, MIN_SIDE_MM};
use super::render::{render_picture, Look};
use super::screen::Screen;
use crate::money::{Currency, Minor};
use std::fmt;

/// Predicts the printed side of the QR code encoding `qr` by laying out the scan-to-pay
/// screen at `profile`'s panel size. Longer content needs more modules: a caller that does
/// not know the content yet sizes with the longest it expects. `None` when the size or
/// physical dimensions are unknown or the display shows no QR code.
pub fn side_mm(profile: &BoardProfile, qr: &str, look: &Look) -> Option<f64> {
    let physical = profile.physical?;
    let native = profile.native_size()?;
    if !profile.shows_qr() {
        return None;
    }
    let mm_per_px = (physical.width_mm / native.width as f64).min(physical.height_mm / native.height as f64);
    let screen = Screen::ScanToPay {
        amount: Minor(9_999_999),
        currency: Currency::DKK,
        qr: qr.to_string(),
    };
    let (_, report) = render_picture(profile.logical_size()?, &screen, look).ok()?;
    Some(code_side_mm(&report.qr?, mm_per_px))
}

/// The start-up warning when the QR code would be smaller than ~25 mm.
pub fn warning(profile: &BoardProfile, qr: &str, look: &Look) -> Option<QrSizeWarning> {
    let side_mm = side_mm(profile, qr, look)?;
    (side_mm < MIN_SIDE_MM).then(|| QrSizeWarning {
        profile: profile.name.clone(),
        side_mm,
    })
}

/// The QR code would be too small to scan comfortably.
#[derive(Clone, Debug, PartialEq)]
pub struct QrSizeWarning {
    pub profile: String,
    pub side_mm: f64,
}

impl fmt::Display for QrSizeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "board profile {}: the MobilePay QR code will be only {:.1} mm wide (less than {MIN_SIDE_MM} mm); \
             customers may fail to scan it, use a larger panel (2.4\" or more)",
            self.profile, self.side_mm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::Language;
    use embedded_graphics::prelude::Size;

    fn look() -> Look {
        Look {
            language: Language::Da,
            header: "Kasse 1".into(),
        }
    }

    #[test]
    fn small_panels_warn_that_the_qr_code_is_under_25_mm() {
        // The PoS V10 payloads of a GUID and of a 15-digit beacon id.
        let guid = "mobilepaypos://pos?id=cd851cd7-8398-4a03-83c1-391a2f5cb71c&source=qr";
        let digits = "mobilepaypos://pos?id=123456789012345&source=qr";
        let small = BoardProfile::load("pi-zero2w-st7789-1.3", None).unwrap();
        let small_warning = warning(&small, guid, &look()).expect("1.3\" panel must warn");
        assert!(small_warning.side_mm < MIN_SIDE_MM);
        assert!(small_warning.to_string().contains("25 mm"), "{small_warning}");
        let big = BoardProfile::load("pi-dsi-7inch", None).unwrap();
        assert!(side_mm(&big, guid, &look()).unwrap() > 50.0);
        assert_eq!(warning(&big, guid, &look()), None);
        let ili = BoardProfile::load("pi-ili9341-2.8", None).unwrap();
        assert_eq!(ili.logical_size(), Some(Size::new(320, 240)));
        assert_eq!(warning(&ili, digits, &look()), None);
        assert_eq!(warning(&ili, guid, &look()), None);
        let oled = BoardProfile::load("pi-ssd1306-status", None).unwrap();
        assert_eq!(side_mm(&oled, guid, &look()), None);
    }

    #[test]
    fn an_invoice_link_is_sized_like_a_sale_code_and_fits_the_smallest_panel() {
        // The longer of the two link forms MobilePay Invoice documents (138 characters): a
        // version 8 code, 49 modules across.
        let link = "https://sandprod-open.mobilepay.dk/usersettings-landing-website/\
                    ?token=0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e&countryCode=DK&product=Invoice";
        let invoice = Screen::InvoiceLink {
            amount: Minor(9_999_999),
            currency: Currency::DKK,
            due_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            link: link.into(),
        };
        let sale = Screen::ScanToPay {
            amount: Minor(9_999_999),
            currency: Currency::DKK,
            qr: link.into(),
        };
        // The invoice screen places its code exactly where the size check measures it, on
        // every shipped panel, so the check's warning holds for invoice links.
        for name in BoardProfile::names(None).unwrap() {
            let profile = BoardProfile::load(&name, None).unwrap();
            let Some(size) = profile.logical_size().filter(|_| profile.shows_qr()) else {
                continue;
            };
            let placed = |screen| render_picture(size, screen, &look()).unwrap().1.qr;
            let code = placed(&invoice).expect("the code fits");
            assert_eq!(Some(code), placed(&sale), "{name}");
            assert!(code.module_px >= 2, "{name}: {code:?}");
        }
        // The smallest panel draws it, too small to scan comfortably, as a sale's code; the
        // 2.8" panel that is large enough for a sale is large enough for an invoice.
        let small = BoardProfile::load("pi-zero2w-st7789-1.3", None).unwrap();
        assert!(warning(&small, link, &look()).is_some());
        let ili = BoardProfile::load("pi-ili9341-2.8", None).unwrap();
        assert_eq!(warning(&ili, link, &look()), None);
    }

    #[test]
    fn an_agreement_link_is_sized_like_a_sale_code_and_fits_the_smallest_panel() {
        // The longest agreement link MobilePay Subscriptions gives a counter: with the phone
        // number that fills in its page and a first payment (206 characters, a version 10
        // code, 57 modules across).
        let link = "https://sandprod-open.mobilepay.dk/subscriptions-landing-website/\
                    ?flow=agreement&id=5d3c2b1a-0f9e-4d8c-b7a6-958473625140&countryCode=DK\
                    &mobile=4512345678&oneOffPaymentId=7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918";
        assert_eq!(link.len(), 206);
        let signup = |price| Screen::SignUpLink {
            plan: "Brødklubben".into(),
            price,
            payments_per_year: Some(12),
            first_payment: Some(Minor(4_900)),
            currency: Currency::DKK,
            accept_by: chrono::NaiveTime::from_hms_opt(14, 35, 0),
            link: link.into(),
        };
        let sale = Screen::ScanToPay {
            amount: Minor(9_999_999),
            currency: Currency::DKK,
            qr: link.into(),
        };
        // With a price or without, the sign-up's code is where the size check measures a
        // sale's, on every shipped panel, with whole modules of at least 2 pixels.
        for name in BoardProfile::names(None).unwrap() {
            let profile = BoardProfile::load(&name, None).unwrap();
            let Some(size) = profile.logical_size().filter(|_| profile.shows_qr()) else {
                continue;
            };
            let placed = |screen: &Screen| render_picture(size, screen, &look()).unwrap().1.qr;
            let sale_code = placed(&sale);
            for price in [Some(Minor(9_900)), None] {
                let code = placed(&signup(price)).expect("the code fits");
                assert_eq!(Some(code), sale_code, "{name} {price:?}");
                assert!(code.module_px >= 2, "{name}: {code:?}");
            }
        }
        let small = BoardProfile::load("pi-zero2w-st7789-1.3", None).unwrap();
        assert!(warning(&small, link, &look()).is_some());
        // The 2.8" panel draws the link of a sign-up without a first payment (135
        // characters, version 8) as large as an invoice's; the longer link of one with a first
        // payment needs version 10, whose modules get 2 pixels there instead of 3: about
        // 20 mm, under the 25 mm rule. The 3.5" panel gives it about 35 mm.
        let ili = BoardProfile::load("pi-ili9341-2.8", None).unwrap();
        let plain = &link[..135];
        assert!(plain.ends_with("countryCode=DK"));
        assert_eq!(warning(&ili, plain, &look()), None);
        let long = warning(&ili, link, &look()).expect("version 10 on 2.8\"");
        assert!((20.0..21.0).contains(&long.side_mm), "{long:?}");
        let large = BoardProfile::load("pi-ili9486-3.5", None).unwrap();
        assert!(side_mm(&large, link, &look()).unwrap() > 34.0);
    }
}
