//! Every screen × language × panel size: the QR code decodes to the exact payload, text
//! stays inside its box and is not cut short.

use crate::support::{all_screens, look, SIZES};
use embedded_graphics::prelude::*;
use mposd::display::{render_picture, Language};

#[test]
fn every_screen_language_and_size_renders_scannable_and_within_bounds() {
    let mut checked_qr = 0;
    for (w, h) in SIZES {
        for language in Language::ALL {
            for screen in all_screens() {
                let what = format!("{} {language} {w}x{h}", screen.kind());
                let (picture, report) = render_picture(Size::new(w, h), &screen, &look(language)).unwrap();
                for text in &report.texts {
                    assert!(!text.truncated, "{what}: {:?} was cut short", text.text);
                    let drawn = text
                        .drawn
                        .unwrap_or_else(|| panic!("{what}: {:?} not drawn", text.text));
                    let inside = text.area.contains(drawn.top_left)
                        && text.area.contains(drawn.bottom_right().unwrap());
                    assert!(
                        inside,
                        "{what}: {:?} drawn at {drawn:?} outside {:?}",
                        text.text, text.area
                    );
                }
                match screen.qr() {
                    Some(qr) => {
                        let placement = report.qr.expect("QR placed");
                        assert!(placement.module_px >= 2, "{what}: {placement:?}");
                        let decoded = picture.decode_qr_codes();
                        assert_eq!(decoded, vec![qr.to_string()], "{what}");
                        checked_qr += 1;
                    }
                    None => {
                        assert_eq!(report.qr, None, "{what}");
                        assert!(picture.decode_qr_codes().is_empty(), "{what}");
                    }
                }
            }
        }
    }
    // The idle and sale codes of PoS V10 beacons (three), an invoice link and two agreement
    // links.
    assert_eq!(checked_qr, SIZES.len() * 3 * 6);
}

#[test]
fn amounts_and_titles_are_legible_on_the_smallest_panel() {
    // 16 px is the smallest line the layout may use for an amount on a 240-pixel panel.
    for language in Language::ALL {
        for screen in all_screens() {
            let (_, report) = render_picture(Size::new(240, 240), &screen, &look(language)).unwrap();
            for text in report.texts.iter().skip(1) {
                assert!(
                    text.line_height >= 10,
                    "{} {language}: {:?} at {} px",
                    screen.kind(),
                    text.text,
                    text.line_height
                );
            }
        }
    }
}

#[test]
fn qr_modules_grow_with_the_panel() {
    let screen = &all_screens()[3];
    let px = |w, h| {
        render_picture(Size::new(w, h), screen, &look(Language::Da))
            .unwrap()
            .1
            .qr
            .unwrap()
            .module_px
    };
    assert!(px(800, 480) > px(480, 320));
    assert!(px(480, 320) > px(240, 240));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Any panel size, even absurd ones: drawing either works with every text inside its box
    /// and a decodable QR code, or reports that the code does not fit. It never panics.
    #[test]
    fn any_panel_size_renders_or_says_why_not(w in 1u32..1000, h in 1u32..1000, pick in 0usize..40, lang in 0usize..3) {
        let screens = all_screens();
        let screen = &screens[pick % screens.len()];
        let language = Language::ALL[lang];
        match render_picture(Size::new(w, h), screen, &look(language)) {
            Ok((picture, report)) => {
                for text in &report.texts {
                    if let Some(drawn) = text.drawn {
                        proptest::prop_assert!(text.area.contains(drawn.top_left));
                        proptest::prop_assert!(text.area.contains(drawn.bottom_right().unwrap()));
                    }
                }
                if let (Some(content), Some(qr)) = (screen.qr(), report.qr) {
                    if qr.module_px >= 2 {
                        proptest::prop_assert_eq!(picture.decode_qr_codes(), vec![content.to_string()]);
                    }
                }
            }
            Err(mposd::display::render::RenderError::QrDoesNotFit { .. }) => {
                proptest::prop_assert!(screen.qr().is_some());
            }
            Err(other) => proptest::prop_assert!(false, "{other}"),
        }
    }
}
