//! Every screen × language × panel size: the QR code decodes to the exact payload, text
//! stays inside its box and is not cut short.

use crate::support::{all_screens, look, SIZES};
use embedded_graphics::prelude::*;
use mposd::display::{render_frame, Language};
use mposd::mobilepay::formats::qr_payload;

#[test]
fn every_screen_language_and_size_renders_scannable_and_within_bounds() {
    let mut checked_qr = 0;
    for (w, h) in SIZES {
        for language in Language::ALL {
            for screen in all_screens() {
                let what = format!("{} {language} {w}x{h}", screen.kind());
                let (frame, report) = render_frame(Size::new(w, h), &screen, &look(language)).unwrap();
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
                match screen.beacon_id() {
                    Some(beacon) => {
                        let placement = report.qr.expect("QR placed");
                        assert!(placement.module_px >= 2, "{what}: {placement:?}");
                        let decoded = frame.decode_qr_codes();
                        assert_eq!(decoded, vec![qr_payload(beacon)], "{what}");
                        checked_qr += 1;
                    }
                    None => {
                        assert_eq!(report.qr, None, "{what}");
                        assert!(frame.decode_qr_codes().is_empty(), "{what}");
                    }
                }
            }
        }
    }
    assert_eq!(checked_qr, SIZES.len() * 3 * 3);
}

#[test]
fn amounts_and_titles_are_legible_on_the_smallest_panel() {
    // 16 px is the smallest line the layout may use for an amount on a 240-pixel panel.
    for language in Language::ALL {
        for screen in all_screens() {
            let (_, report) = render_frame(Size::new(240, 240), &screen, &look(language)).unwrap();
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
        render_frame(Size::new(w, h), screen, &look(Language::Da))
            .unwrap()
            .1
            .qr
            .unwrap()
            .module_px
    };
    assert!(px(800, 480) > px(480, 320));
    assert!(px(480, 320) > px(240, 240));
}
