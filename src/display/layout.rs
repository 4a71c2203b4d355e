//! Where things go on a panel of a given size. The layout depends only on the panel size and
//! on which parts a screen has, so every screen × language × resolution combination is
//! covered by the same few rules:
//!
//! - a header bar with the shop or till name across the top;
//! - with a QR code: landscape panels put the code on the right and the text beside it;
//!   portrait and square panels put the code in the middle, the amount above and the hint
//!   below. The code gets the larger share of the space: it is what must work;
//! - without a QR code: a status icon above the text lines.

use super::content::Role;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub header: Rectangle,
    pub qr: Option<Rectangle>,
    pub icon: Option<Rectangle>,
    /// One box per text role present, with the largest font scale allowed in it.
    pub boxes: Vec<TextBox>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextBox {
    pub role: Role,
    pub area: Rectangle,
    pub max_scale: u32,
}

/// Landscape means clearly wider than tall; 5:4 and squarer panels stack vertically.
fn is_landscape(size: Size) -> bool {
    size.width * 4 >= size.height * 5
}

fn weight(role: Role) -> u32 {
    match role {
        Role::Title => 3,
        Role::Amount => 4,
        Role::Detail => 3,
    }
}

fn max_scale(role: Role, size: Size) -> u32 {
    let base = (size.width.min(size.height) / 160).max(1);
    match role {
        Role::Title => base,
        Role::Amount => base + 2,
        Role::Detail => (base * 2 / 3).max(1),
    }
}

impl Layout {
    /// `qr_modules` is the QR code's width in modules including the quiet zone, when the
    /// screen has one: its box is shrunk to whole pixels per module and the rest goes to text.
    pub fn new(size: Size, qr_modules: Option<u32>, has_icon: bool, roles: &[Role]) -> Layout {
        let has_qr = qr_modules.is_some();
        let snap = |side: u32| match qr_modules {
            Some(m) if m > 0 && side >= m => side / m * m,
            _ => side,
        };
        let short = size.width.min(size.height);
        let margin = (short / 40).max(4);
        let header_h = (size.height / 10).clamp(20, 56);
        let header = Rectangle::new(Point::zero(), Size::new(size.width, header_h));
        let body = Rectangle::new(
            Point::new(margin as i32, (header_h + margin) as i32),
            Size::new(
                size.width.saturating_sub(2 * margin),
                size.height.saturating_sub(header_h + 2 * margin),
            ),
        );
        let boxed = |role: Role, area: Rectangle| TextBox {
            role,
            area,
            max_scale: max_scale(role, size),
        };
        if has_qr && is_landscape(size) {
            let side = snap(body.size.height.min(body.size.width * 61 / 100));
            let qr = Rectangle::new(
                Point::new(
                    body.top_left.x + (body.size.width - side) as i32,
                    body.top_left.y + ((body.size.height - side) / 2) as i32,
                ),
                Size::new(side, side),
            );
            let column = Rectangle::new(
                body.top_left,
                Size::new(body.size.width.saturating_sub(side + margin), body.size.height),
            );
            let boxes = stack(column, roles, margin)
                .into_iter()
                .map(|(r, a)| boxed(r, a))
                .collect();
            Layout {
                header,
                qr: Some(qr),
                icon: None,
                boxes,
            }
        } else if has_qr {
            let square = is_square(size);
            let share = if square { 74 } else { 62 };
            let side = snap(body.size.width.min(body.size.height * share / 100));
            let rest = body.size.height.saturating_sub(side + 2 * margin);
            // On a square panel the amount alone says what is to be paid; its label goes.
            let drop_title = square && roles.contains(&Role::Amount);
            let above: Vec<Role> = roles
                .iter()
                .copied()
                .filter(|r| *r != Role::Detail && !(drop_title && *r == Role::Title))
                .collect();
            let below: Vec<Role> = roles.iter().copied().filter(|r| *r == Role::Detail).collect();
            let (above_h, below_h) = match (above.is_empty(), below.is_empty()) {
                (false, false) => (rest * 3 / 5, rest - rest * 3 / 5),
                (false, true) => (rest, 0),
                (true, false) => (0, rest),
                (true, true) => (0, 0),
            };
            let top = Rectangle::new(body.top_left, Size::new(body.size.width, above_h));
            let qr_y = body.top_left.y + (above_h + margin) as i32;
            let qr = Rectangle::new(
                Point::new(body.top_left.x + ((body.size.width - side) / 2) as i32, qr_y),
                Size::new(side, side),
            );
            let bottom = Rectangle::new(
                Point::new(body.top_left.x, qr_y + (side + margin) as i32),
                Size::new(body.size.width, below_h),
            );
            let mut boxes: Vec<TextBox> = stack(top, &above, margin / 2)
                .into_iter()
                .map(|(r, a)| boxed(r, a))
                .collect();
            boxes.extend(stack(bottom, &below, 0).into_iter().map(|(r, a)| boxed(r, a)));
            Layout {
                header,
                qr: Some(qr),
                icon: None,
                boxes,
            }
        } else {
            let icon_side = if has_icon {
                (body.size.height * 3 / 10).min(body.size.width * 3 / 10)
            } else {
                0
            };
            let icon = has_icon.then(|| {
                Rectangle::new(
                    Point::new(
                        body.top_left.x + ((body.size.width - icon_side) / 2) as i32,
                        body.top_left.y,
                    ),
                    Size::new(icon_side, icon_side),
                )
            });
            let gap = if has_icon { icon_side + margin } else { 0 };
            let text = Rectangle::new(
                body.top_left + Point::new(0, gap as i32),
                Size::new(body.size.width, body.size.height.saturating_sub(gap)),
            );
            let boxes = stack(text, roles, margin)
                .into_iter()
                .map(|(r, a)| boxed(r, a))
                .collect();
            Layout {
                header,
                qr: None,
                icon,
                boxes,
            }
        }
    }

    pub fn text_box(&self, role: Role) -> Option<&TextBox> {
        self.boxes.iter().find(|b| b.role == role)
    }
}

fn is_square(size: Size) -> bool {
    !is_landscape(size) && size.height * 4 < size.width * 5
}

/// Splits `area` vertically among `roles` by weight, with `gap` pixels between boxes.
fn stack(area: Rectangle, roles: &[Role], gap: u32) -> Vec<(Role, Rectangle)> {
    if roles.is_empty() {
        return Vec::new();
    }
    let gaps = gap * (roles.len() as u32 - 1);
    let usable = area.size.height.saturating_sub(gaps);
    let total: u32 = roles.iter().map(|r| weight(*r)).sum();
    let mut y = area.top_left.y;
    roles
        .iter()
        .map(|role| {
            let h = usable * weight(*role) / total;
            let rect = Rectangle::new(Point::new(area.top_left.x, y), Size::new(area.size.width, h));
            y += (h + gap) as i32;
            (*role, rect)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [(u32, u32); 8] = [
        (240, 240),
        (240, 320),
        (320, 240),
        (480, 320),
        (320, 480),
        (800, 480),
        (480, 800),
        (128, 128),
    ];

    fn inside(outer: Rectangle, inner: Rectangle) -> bool {
        inner.size.width == 0
            || inner.size.height == 0
            || (outer.contains(inner.top_left)
                && outer.contains(inner.bottom_right().unwrap_or(inner.top_left)))
    }

    fn overlap(a: Rectangle, b: Rectangle) -> bool {
        !a.intersection(&b).is_zero_sized()
    }

    #[test]
    fn boxes_stay_on_the_panel_and_never_overlap() {
        let all = [Role::Title, Role::Amount, Role::Detail];
        for (w, h) in SIZES {
            let size = Size::new(w, h);
            let panel = Rectangle::new(Point::zero(), size);
            for (has_qr, has_icon) in [(true, false), (false, true), (false, false)] {
                for roles in [&all[..], &[Role::Title, Role::Detail][..], &[Role::Title][..]] {
                    let l = Layout::new(size, has_qr.then_some(45), has_icon, roles);
                    let mut parts: Vec<Rectangle> = vec![l.header];
                    parts.extend(l.qr);
                    parts.extend(l.icon);
                    parts.extend(l.boxes.iter().map(|b| b.area));
                    for (i, a) in parts.iter().enumerate() {
                        assert!(inside(panel, *a), "{w}x{h} {a:?} off the panel");
                        for b in &parts[i + 1..] {
                            assert!(!overlap(*a, *b), "{w}x{h} qr={has_qr}: {a:?} overlaps {b:?}");
                        }
                    }
                    let dropped = has_qr && w == h && roles.len() == 3;
                    assert_eq!(l.boxes.len(), roles.len() - usize::from(dropped), "{w}x{h}");
                }
            }
        }
    }

    #[test]
    fn qr_gets_most_of_the_short_side() {
        for (w, h) in SIZES {
            let l = Layout::new(
                Size::new(w, h),
                Some(37),
                false,
                &[Role::Title, Role::Amount, Role::Detail],
            );
            let qr = l.qr.unwrap();
            assert_eq!(qr.size.width, qr.size.height);
            assert_eq!(qr.size.width % 37, 0, "{w}x{h}: whole pixels per module");
            assert!(qr.size.width * 2 >= w.min(h), "{w}x{h}: {qr:?}");
        }
    }
}
