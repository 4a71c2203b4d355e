//! Text that always fits its box: the largest font size at which the (word-wrapped) text
//! fits is chosen, and text that cannot fit even at the smallest size is cut with "...".
//!
//! Large sizes are the ISO 8859-15 bitmap fonts of embedded-graphics scaled by whole
//! numbers. That keeps æ ø å ä ö € sharp, needs no font files and draws identically on
//! every output, which the golden-image tests rely on.

use embedded_graphics::mono_font::iso_8859_15::{
    FONT_10X20, FONT_6X10, FONT_6X13_BOLD, FONT_7X13_BOLD, FONT_9X15_BOLD, FONT_9X18_BOLD,
};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::PixelColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use embedded_graphics::text::{Baseline, Text};

/// A font at an integer scale.
#[derive(Clone, Copy, Debug)]
pub struct TextSize {
    pub font: &'static MonoFont<'static>,
    pub scale: u32,
}

impl TextSize {
    pub fn char_width(&self) -> u32 {
        (self.font.character_size.width + self.font.character_spacing) * self.scale
    }

    pub fn line_height(&self) -> u32 {
        self.font.character_size.height * self.scale
    }

    fn text_width(&self, text: &str) -> u32 {
        text.chars().count() as u32 * self.char_width()
    }
}

/// Sizes from largest to smallest; the fitter takes the first that works.
const SIZES: [(&MonoFont<'static>, u32); 14] = [
    (&FONT_10X20, 5),
    (&FONT_10X20, 4),
    (&FONT_10X20, 3),
    (&FONT_9X18_BOLD, 3),
    (&FONT_10X20, 2),
    (&FONT_9X18_BOLD, 2),
    (&FONT_9X15_BOLD, 2),
    (&FONT_7X13_BOLD, 2),
    (&FONT_10X20, 1),
    (&FONT_9X18_BOLD, 1),
    (&FONT_9X15_BOLD, 1),
    (&FONT_7X13_BOLD, 1),
    (&FONT_6X13_BOLD, 1),
    (&FONT_6X10, 1),
];

/// Gap between wrapped lines, as a fraction (1/n) of the line height.
const LINE_GAP_DIVISOR: u32 = 6;

/// Text laid out for one box.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub size: TextSize,
    pub lines: Vec<String>,
    /// The text did not fit at the smallest size and was shortened.
    pub truncated: bool,
}

impl Fitted {
    fn gap(&self) -> u32 {
        self.size.line_height() / LINE_GAP_DIVISOR
    }

    /// Height of the whole block of lines.
    pub fn height(&self) -> u32 {
        let n = self.lines.len() as u32;
        n * self.size.line_height() + n.saturating_sub(1) * self.gap()
    }
}

/// Chooses the largest size at which `text` fits `area`, wrapping at spaces. `max_scale`
/// limits how large the text may grow (a detail line should not shout).
pub fn fit(text: &str, area: Size, max_scale: u32, single_line: bool) -> Fitted {
    for (font, scale) in SIZES.iter().filter(|(_, s)| *s <= max_scale) {
        let size = TextSize { font, scale: *scale };
        let max_lines = max_lines(size, area.height, single_line);
        if max_lines == 0 {
            continue;
        }
        if let Some(lines) = wrap(text, size, area.width, max_lines) {
            return Fitted {
                size,
                lines,
                truncated: false,
            };
        }
    }
    let (font, scale) = SIZES[SIZES.len() - 1];
    let size = TextSize { font, scale };
    let max_lines = max_lines(size, area.height, single_line);
    Fitted {
        size,
        lines: truncate(text, size, area.width, max_lines),
        truncated: true,
    }
}

fn max_lines(size: TextSize, height: u32, single_line: bool) -> usize {
    let fit = lines_that_fit(size, height);
    if single_line {
        fit.min(1)
    } else {
        fit
    }
}

fn lines_that_fit(size: TextSize, height: u32) -> usize {
    let h = size.line_height();
    let gap = h / LINE_GAP_DIVISOR;
    if height < h {
        0
    } else {
        (1 + (height - h) / (h + gap)) as usize
    }
}

/// Greedy word wrap; `None` when the text needs more lines than allowed or a single word is
/// wider than the box.
fn wrap(text: &str, size: TextSize, width: u32, max_lines: usize) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if size.text_width(word) > width {
            return None;
        }
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if size.text_width(&candidate) <= width {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    (lines.len() <= max_lines).then_some(lines)
}

/// The smallest-size fallback: fill the lines character by character and end with "...".
fn truncate(text: &str, size: TextSize, width: u32, max_lines: usize) -> Vec<String> {
    let per_line = (width / size.char_width()) as usize;
    if per_line == 0 || max_lines == 0 {
        return Vec::new();
    }
    let chars: Vec<char> = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    let capacity = per_line * max_lines;
    let mut kept: Vec<char> = chars.clone();
    if chars.len() > capacity {
        kept.truncate(capacity.saturating_sub(3));
        kept.extend("...".chars());
        kept.truncate(capacity);
    }
    kept.chunks(per_line)
        .map(|c| c.iter().collect::<String>().trim().to_string())
        .collect()
}

/// Horizontal placement of lines inside their box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
}

/// Draws fitted text vertically centred in `area` and returns the rectangle of pixels that
/// were actually set (measured while drawing, not computed), so tests can prove that text
/// stays inside its box.
pub fn draw<D>(
    target: &mut D,
    fitted: &Fitted,
    area: Rectangle,
    align: Align,
    color: D::Color,
) -> Result<Option<Rectangle>, D::Error>
where
    D: DrawTarget,
    D::Color: PixelColor,
{
    let top = area.top_left.y + (area.size.height.saturating_sub(fitted.height()) / 2) as i32;
    let mut pen = ScaledPen {
        target,
        scale: fitted.size.scale,
        origin: Point::zero(),
        drawn: None,
    };
    let style = MonoTextStyle::new(fitted.size.font, color);
    let step = (fitted.size.line_height() + fitted.gap()) as i32;
    for (i, line) in fitted.lines.iter().enumerate() {
        let width = fitted.size.text_width(line);
        let x = match align {
            Align::Left => area.top_left.x,
            Align::Center => area.top_left.x + (area.size.width.saturating_sub(width) / 2) as i32,
        };
        pen.origin = Point::new(x, top + i as i32 * step);
        Text::with_baseline(line, Point::zero(), style, Baseline::Top).draw(&mut pen)?;
    }
    Ok(pen.drawn)
}

/// Draws each pixel of a small-font glyph as a `scale`×`scale` square at `origin`, and
/// records the bounding box of what it drew.
struct ScaledPen<'a, D> {
    target: &'a mut D,
    scale: u32,
    origin: Point,
    drawn: Option<Rectangle>,
}

impl<D: DrawTarget> Dimensions for ScaledPen<'_, D> {
    fn bounding_box(&self) -> Rectangle {
        let outer = self.target.bounding_box();
        let s = self.scale.max(1);
        Rectangle::new(
            Point::zero(),
            Size::new(outer.size.width / s + 1, outer.size.height / s + 1),
        )
    }
}

impl<D: DrawTarget> DrawTarget for ScaledPen<'_, D> {
    type Color = D::Color;
    type Error = D::Error;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let s = self.scale as i32;
        for Pixel(p, color) in pixels {
            let square = Rectangle::new(
                self.origin + Point::new(p.x * s, p.y * s),
                Size::new(self.scale, self.scale),
            );
            self.drawn = Some(match self.drawn {
                None => square,
                Some(r) => union(r, square),
            });
            self.target.fill_solid(&square, color)?;
        }
        Ok(())
    }
}

fn union(a: Rectangle, b: Rectangle) -> Rectangle {
    let (Some(a_br), Some(b_br)) = (a.bottom_right(), b.bottom_right()) else {
        return if a.is_zero_sized() { b } else { a };
    };
    let tl = Point::new(a.top_left.x.min(b.top_left.x), a.top_left.y.min(b.top_left.y));
    let br = Point::new(a_br.x.max(b_br.x), a_br.y.max(b_br.y));
    Rectangle::with_corners(tl, br)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_gets_a_large_font() {
        let f = fit("49,95 kr.", Size::new(300, 100), 5, true);
        assert!(f.size.scale >= 2, "{:?}", f.size.scale);
        assert_eq!(f.lines, vec!["49,95 kr.".to_string()]);
        assert!(!f.truncated);
        assert!(f.size.text_width(&f.lines[0]) <= 300);
    }

    #[test]
    fn long_text_wraps_within_the_box() {
        let text = "Henkilökunta: tarkista kassan yhteys";
        let f = fit(text, Size::new(120, 60), 3, false);
        assert!(f.lines.len() > 1);
        assert!(f.height() <= 60);
        assert!(f.lines.iter().all(|l| f.size.text_width(l) <= 120));
        assert_eq!(f.lines.join(" "), text);
    }

    #[test]
    fn hopeless_text_is_cut_not_overflowed() {
        let f = fit(&"x".repeat(500), Size::new(60, 10), 3, false);
        assert!(f.truncated);
        assert_eq!(f.lines.len(), 1);
        assert!(f.lines[0].ends_with("..."));
        assert!(f.size.text_width(&f.lines[0]) <= 60);
        let none = fit("abc", Size::new(60, 5), 3, false);
        assert!(none.lines.is_empty());
    }
}
