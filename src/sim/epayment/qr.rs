//! The payment QR code as an image: SVG (the API's default) or PNG of a requested size, with
//! the four-module quiet zone a scanner needs.

use crate::backends::epayment::model::QrImageFormat;
use crate::display::qr::{QrSymbol, QUIET_ZONE};
use axum::{
    http::header,
    response::{IntoResponse, Response},
};

/// The image answer for `target`, or `None` when the format has no image (`TEXT/TARGETURL`)
/// or the target cannot be encoded.
pub fn image(format: &QrImageFormat, size: u32, target: &str) -> Option<Response> {
    let symbol = QrSymbol::encode(target).ok()?;
    match format {
        QrImageFormat::Svg => Some(([(header::CONTENT_TYPE, "image/svg+xml")], svg(&symbol)).into_response()),
        QrImageFormat::Png => {
            Some(([(header::CONTENT_TYPE, "image/png")], png(&symbol, size)?).into_response())
        }
        _ => None,
    }
}

fn svg(symbol: &QrSymbol) -> String {
    let side = symbol.width_with_quiet_zone();
    let mut path = String::new();
    for y in 0..symbol.width {
        for x in 0..symbol.width {
            if symbol.is_dark(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
<rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    )
}

/// A `size`×`size` grey PNG with whole-pixel modules, centred.
fn png(symbol: &QrSymbol, size: u32) -> Option<Vec<u8>> {
    let outer = symbol.width_with_quiet_zone();
    let module = (size / outer).max(1);
    let size = size.max(module * outer);
    let offset = (size - module * outer) / 2 + QUIET_ZONE * module;
    let mut pixels = vec![255u8; (size * size) as usize];
    for y in 0..size {
        for x in 0..size {
            let (mx, my) = (x.checked_sub(offset), y.checked_sub(offset));
            if let (Some(mx), Some(my)) = (mx, my) {
                if symbol.is_dark(mx / module, my / module) {
                    pixels[(y * size + x) as usize] = 0;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}
