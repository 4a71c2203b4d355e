//! Golden images: a few reference screens compared pixel by pixel with PNGs in
//! tests/golden/. After an intended change of the look, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test --test display golden` and review the new PNGs in the diff.

use crate::support::{due_date, look, AGREEMENT_LINK, DIGITS, GUID, INVOICE_LINK};
use chrono::{NaiveDate, NaiveTime};
use embedded_graphics::prelude::*;
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::{render_picture, Language, Picture, Reason, Screen, StaffHint};
use mposd::money::{Currency, Minor};
use std::path::PathBuf;

fn references() -> Vec<(&'static str, Size, Language, Screen)> {
    vec![
        (
            "scan-to-pay-da-320x240",
            Size::new(320, 240),
            Language::Da,
            Screen::ScanToPay {
                amount: Minor(14_995),
                currency: Currency::DKK,
                qr: qr_payload(GUID),
            },
        ),
        (
            "scan-to-pay-fi-240x320",
            Size::new(240, 320),
            Language::Fi,
            Screen::ScanToPay {
                amount: Minor(2_450),
                currency: Currency::EUR,
                qr: qr_payload(DIGITS),
            },
        ),
        (
            "approved-da-240x240",
            Size::new(240, 240),
            Language::Da,
            Screen::Approved {
                amount: Minor(14_995),
                currency: Currency::DKK,
            },
        ),
        (
            "declined-en-480x320",
            Size::new(480, 320),
            Language::En,
            Screen::Declined {
                reason: Reason::RejectedByCustomer,
            },
        ),
        (
            "offline-fi-320x240",
            Size::new(320, 240),
            Language::Fi,
            Screen::Offline {
                hint: StaffHint::CheckNetwork,
            },
        ),
        (
            "invoice-link-da-320x240",
            Size::new(320, 240),
            Language::Da,
            Screen::InvoiceLink {
                amount: Minor(34_900),
                currency: Currency::DKK,
                due_date: due_date(),
                link: INVOICE_LINK.into(),
            },
        ),
        (
            "invoice-pushed-en-480x320",
            Size::new(480, 320),
            Language::En,
            Screen::InvoicePushed {
                amount: Minor(15_000),
                currency: Currency::DKK,
                phone: "+••••••5678".into(),
            },
        ),
        (
            "invoice-scheduled-fi-240x240",
            Size::new(240, 240),
            Language::Fi,
            Screen::InvoiceScheduled {
                amount: Minor(34_900),
                currency: Currency::EUR,
                payment_date: Some(NaiveDate::from_ymd_opt(2027, 1, 5).unwrap()),
            },
        ),
        (
            "invoice-outstanding-da-240x320",
            Size::new(240, 320),
            Language::Da,
            Screen::InvoiceOutstanding {
                amount: Minor(34_900),
                currency: Currency::DKK,
                due_date: due_date(),
            },
        ),
        (
            "signup-link-da-320x240",
            Size::new(320, 240),
            Language::Da,
            Screen::SignUpLink {
                plan: "Brødklubben".into(),
                price: Some(Minor(9_900)),
                payments_per_year: Some(12),
                first_payment: Some(Minor(4_900)),
                currency: Currency::DKK,
                accept_by: NaiveTime::from_hms_opt(14, 35, 0),
                link: AGREEMENT_LINK.into(),
            },
        ),
        (
            "signup-link-fi-240x320",
            Size::new(240, 320),
            Language::Fi,
            Screen::SignUpLink {
                plan: "Kahvikerho".into(),
                price: Some(Minor(1_990)),
                payments_per_year: Some(4),
                first_payment: None,
                currency: Currency::EUR,
                accept_by: NaiveTime::from_hms_opt(9, 5, 0),
                link: AGREEMENT_LINK[..135].into(),
            },
        ),
        (
            "signed-up-en-480x320",
            Size::new(480, 320),
            Language::En,
            Screen::SignedUp {
                plan: Some("Brødklubben".into()),
                first_payment: Some((Minor(4_900), Currency::DKK)),
            },
        ),
        (
            "signup-ended-fi-240x240",
            Size::new(240, 240),
            Language::Fi,
            Screen::SignUpEnded {
                reason: Reason::RejectedByCustomer,
            },
        ),
    ]
}

#[test]
fn reference_screens_match_their_golden_images() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (name, size, language, screen) in references() {
        let (picture, _) = render_picture(size, &screen, &look(language)).unwrap();
        let path = dir.join(format!("{name}.png"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            picture.write_png(std::fs::File::create(&path).unwrap()).unwrap();
            continue;
        }
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1 to create it", path.display()));
        let golden = Picture::read_png(std::io::BufReader::new(file)).unwrap();
        if golden == picture {
            continue;
        }
        let actual = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.actual.png"));
        picture
            .write_png(std::fs::File::create(&actual).unwrap())
            .unwrap();
        let differing = if golden.width() == picture.width() && golden.height() == picture.height() {
            golden
                .pixels()
                .iter()
                .zip(picture.pixels())
                .filter(|(a, b)| a != b)
                .count()
        } else {
            usize::MAX
        };
        failures.push(format!(
            "{name}: {differing} pixels differ (actual image: {})",
            actual.display()
        ));
    }
    assert!(failures.is_empty(), "golden mismatch:\n{}", failures.join("\n"));
}

#[test]
fn golden_images_stay_small_and_scannable() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut total = 0;
    for (name, _, _, screen) in references() {
        let path = dir.join(format!("{name}.png"));
        total += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if let (Some(qr), Ok(file)) = (screen.qr(), std::fs::File::open(&path)) {
            let golden = Picture::read_png(file).unwrap();
            assert_eq!(golden.decode_qr_codes(), vec![qr.to_string()], "{name}");
        }
    }
    assert!(total < 200_000, "golden PNGs take {total} bytes");
}
