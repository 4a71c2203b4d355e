//! Draws a screen onto any embedded-graphics target and reports what went where, so tests
//! can check text bounds and the QR code against the pixels actually drawn.

use super::content::{Content, Icon, QrSource, Role};
use super::language::Language;
use super::layout::Layout;
use super::picture::Picture;
use super::qr::{self, QrError, QrPlacement, QrSymbol};
use super::screen::Screen;
use super::text::{self, Align};
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Circle, Line, Polyline, PrimitiveStyle, Rectangle};

/// Everything besides the screen that decides how it looks; from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Look {
    pub language: Language,
    /// Shown in the header bar: the shop or till name the customer recognises.
    pub header: String,
}

pub mod palette {
    use embedded_graphics::pixelcolor::Rgb888;
    pub const BACKGROUND: Rgb888 = Rgb888::new(255, 255, 255);
    pub const TEXT: Rgb888 = Rgb888::new(30, 30, 30);
    /// MobilePay blue.
    pub const ACCENT: Rgb888 = Rgb888::new(90, 120, 255);
    pub const ON_ACCENT: Rgb888 = Rgb888::new(255, 255, 255);
    pub const OK: Rgb888 = Rgb888::new(30, 140, 70);
    pub const FAIL: Rgb888 = Rgb888::new(210, 45, 45);
    pub const WARN: Rgb888 = Rgb888::new(230, 150, 0);
    pub const MUTED: Rgb888 = Rgb888::new(120, 120, 120);
}

/// One text as drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextReport {
    pub text: String,
    /// The box the text had to stay in.
    pub area: Rectangle,
    /// The pixels actually set while drawing it (`None` if nothing was drawn).
    pub drawn: Option<Rectangle>,
    pub truncated: bool,
    /// Height of one line in pixels, to judge legibility.
    pub line_height: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RenderReport {
    pub texts: Vec<TextReport>,
    pub qr: Option<QrPlacement>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError<E> {
    #[error("drawing failed: {0:?}")]
    Draw(E),
    #[error(transparent)]
    Qr(#[from] QrError),
    #[error("the QR code ({modules} modules + quiet zone) does not fit a {width}x{height} panel")]
    QrDoesNotFit { modules: u32, width: u32, height: u32 },
}

/// Draws `screen` filling the whole of `target`.
pub fn render<D>(target: &mut D, screen: &Screen, look: &Look) -> Result<RenderReport, RenderError<D::Error>>
where
    D: DrawTarget,
    D::Color: From<Rgb888>,
{
    let size = target.bounding_box().size;
    let content = Content::of(screen, look.language);
    let roles: Vec<Role> = content.lines.iter().map(|l| l.role).collect();
    let symbol = content.qr.as_ref().map(QrSource::symbol).transpose()?;
    let layout = Layout::new(
        size,
        symbol.as_deref().map(QrSymbol::width_with_quiet_zone),
        content.icon.is_some(),
        &roles,
    );
    let mut report = RenderReport::default();

    target
        .clear(palette::BACKGROUND.into())
        .map_err(RenderError::Draw)?;
    target
        .fill_solid(&layout.header, palette::ACCENT.into())
        .map_err(RenderError::Draw)?;
    let header_area = layout.header.resized(
        Size::new(
            layout
                .header
                .size
                .width
                .saturating_sub(layout.header.size.height / 2),
            layout.header.size.height * 3 / 4,
        ),
        embedded_graphics::geometry::AnchorPoint::Center,
    );
    report.texts.push(draw_text(
        target,
        &look.header,
        header_area,
        2,
        true,
        palette::ON_ACCENT,
    )?);

    if let (Some(symbol), Some(area)) = (&symbol, layout.qr) {
        let placement = QrPlacement::fit(symbol, area).ok_or(RenderError::QrDoesNotFit {
            modules: symbol.width,
            width: size.width,
            height: size.height,
        })?;
        qr::draw(target, symbol, &placement).map_err(RenderError::Draw)?;
        report.qr = Some(placement);
    }
    if let (Some(icon), Some(area)) = (content.icon, layout.icon) {
        draw_icon(target, icon, area).map_err(RenderError::Draw)?;
    }
    for line in &content.lines {
        let Some(tb) = layout.text_box(line.role) else {
            continue;
        };
        let color = match line.role {
            Role::Detail => palette::MUTED,
            _ => palette::TEXT,
        };
        report.texts.push(draw_text(
            target,
            &line.text,
            tb.area,
            tb.max_scale,
            line.role == Role::Amount,
            color,
        )?);
    }
    Ok(report)
}

/// Renders `screen` into a new in-memory picture of `size`.
pub fn render_picture(
    size: Size,
    screen: &Screen,
    look: &Look,
) -> Result<(Picture, RenderReport), RenderError<std::convert::Infallible>> {
    let mut picture = Picture::new(size);
    let report = render(&mut picture, screen, look)?;
    Ok((picture, report))
}

fn draw_text<D>(
    target: &mut D,
    text: &str,
    area: Rectangle,
    max_scale: u32,
    single_line: bool,
    color: Rgb888,
) -> Result<TextReport, RenderError<D::Error>>
where
    D: DrawTarget,
    D::Color: From<Rgb888>,
{
    let fitted = text::fit(text, area.size, max_scale, single_line);
    let drawn = text::draw(target, &fitted, area, Align::Center, color.into()).map_err(RenderError::Draw)?;
    Ok(TextReport {
        text: text.to_string(),
        area,
        drawn,
        truncated: fitted.truncated,
        line_height: fitted.size.line_height(),
    })
}

fn draw_icon<D>(target: &mut D, icon: Icon, area: Rectangle) -> Result<(), D::Error>
where
    D: DrawTarget,
    D::Color: From<Rgb888>,
{
    let side = area.size.width.min(area.size.height);
    if side < 8 {
        return Ok(());
    }
    let color = match icon {
        Icon::Check => palette::OK,
        Icon::Cross => palette::FAIL,
        Icon::Wait | Icon::Later => palette::ACCENT,
        Icon::Warning => palette::WARN,
        Icon::Closed => palette::MUTED,
        Icon::Scheduled => palette::OK,
    };
    let tl = area.top_left + Point::new(((area.size.width - side) / 2) as i32, 0);
    Circle::new(tl, side)
        .into_styled(PrimitiveStyle::with_fill(color.into()))
        .draw(target)?;
    let at = |fx: i32, fy: i32| tl + Point::new(side as i32 * fx / 100, side as i32 * fy / 100);
    let stroke = PrimitiveStyle::with_stroke(palette::ON_ACCENT.into(), (side / 10).max(2));
    let white = PrimitiveStyle::with_fill(palette::ON_ACCENT.into());
    match icon {
        Icon::Check => Polyline::new(&[at(27, 52), at(43, 68), at(73, 36)])
            .into_styled(stroke)
            .draw(target),
        Icon::Cross => {
            Line::new(at(32, 32), at(68, 68))
                .into_styled(stroke)
                .draw(target)?;
            Line::new(at(68, 32), at(32, 68)).into_styled(stroke).draw(target)
        }
        Icon::Wait => {
            let d = (side / 8).max(2);
            for fx in [30, 50, 70] {
                Circle::with_center(at(fx, 50), d)
                    .into_styled(white)
                    .draw(target)?;
            }
            Ok(())
        }
        Icon::Warning => {
            Line::new(at(50, 22), at(50, 60))
                .into_styled(stroke)
                .draw(target)?;
            Circle::with_center(at(50, 76), (side / 8).max(2))
                .into_styled(white)
                .draw(target)
        }
        Icon::Closed => Rectangle::with_corners(at(24, 43), at(76, 57))
            .into_styled(white)
            .draw(target),
        // A clock at ten past twelve: blue for an invoice still to be paid, green for one
        // whose payment is scheduled. No tick: neither is paid.
        Icon::Later | Icon::Scheduled => {
            Polyline::new(&[at(50, 22), at(50, 50), at(70, 62)])
                .into_styled(stroke)
                .draw(target)?;
            Circle::with_center(at(50, 50), (side / 8).max(2))
                .into_styled(white)
                .draw(target)
        }
    }
}
