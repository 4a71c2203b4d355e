//! Customer display figures: QR encoding time and full-frame render time per panel size,
//! plus the cost of converting a frame for a framebuffer. Run with
//! `cargo bench --bench display`. Under `cargo test` (no `--bench` argument) every figure is
//! measured once, as a quick check that the benchmark still runs.

use embedded_graphics::prelude::*;
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::output::framebuffer::{FbGeometry, FramebufferSink, PixelFormat};
use mposd::display::output::rotation::Rotation;
use mposd::display::output::PictureSink;
use mposd::display::qr::QrSymbol;
use mposd::display::{render, Language, Look, Picture, Screen};
use mposd::money::{Currency, Minor};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` repeatedly for about `budget` and returns the mean time per run.
fn measure(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < budget || runs < 3 {
        f();
        runs += 1;
    }
    start.elapsed() / runs
}

fn micros(d: Duration) -> String {
    format!("{:>9.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let budget = if std::env::args().any(|a| a == "--bench") {
        Duration::from_millis(500)
    } else {
        Duration::ZERO
    };
    println!("QR encoding (EC level M)");
    for (name, beacon) in [
        ("15-digit beacon id", "123456789012345"),
        ("GUID beacon id", "cd851cd7-8398-4a03-83c1-391a2f5cb71c"),
    ] {
        let payload = qr_payload(beacon);
        let symbol = QrSymbol::encode(&payload).unwrap();
        let t = measure(budget, || {
            black_box(QrSymbol::encode(black_box(&payload)).unwrap());
        });
        println!("  {name:<20} {} modules  {}", symbol.width, micros(t));
    }

    let look = Look {
        language: Language::Da,
        header: "Bageriet Ærø - Kasse 2".into(),
    };
    let scan = Screen::ScanToPay {
        amount: Minor(14_995),
        currency: Currency::DKK,
        qr: qr_payload("cd851cd7-8398-4a03-83c1-391a2f5cb71c"),
    };
    let approved = Screen::Approved {
        amount: Minor(14_995),
        currency: Currency::DKK,
    };
    let dir = std::env::temp_dir().join(format!("mposd-display-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("\nFull-frame render into memory, and conversion + write to an RGB565 framebuffer file");
    println!(
        "  {:<10} {:>12} {:>12} {:>12}",
        "size", "scan-to-pay", "approved", "fb RGB565"
    );
    for (w, h) in [(240, 240), (240, 320), (320, 240), (480, 320), (800, 480)] {
        let mut picture = Picture::new(Size::new(w, h));
        let t_scan = measure(budget, || {
            black_box(render(&mut picture, &scan, &look).unwrap());
        });
        let t_ok = measure(budget, || {
            black_box(render(&mut picture, &approved, &look).unwrap());
        });
        let path = dir.join(format!("fb-{w}x{h}"));
        std::fs::write(&path, vec![0u8; (w * h * 2) as usize]).unwrap();
        let geometry = FbGeometry {
            width: w,
            height: h,
            stride: w * 2,
            format: PixelFormat::Rgb565,
        };
        let mut fb = FramebufferSink::open(&path, Some(geometry), Rotation::NONE).unwrap();
        let t_fb = measure(budget, || fb.push(&picture).unwrap());
        println!(
            "  {:<10} {} {} {}",
            format!("{w}x{h}"),
            micros(t_scan),
            micros(t_ok),
            micros(t_fb)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
