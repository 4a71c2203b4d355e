//! `mposd display`: the beacon id given with `--beacon` is drawn as its MobilePay QR payload,
//! and one that cannot exist is refused before anything is drawn.

use crate::support::GUID;
use mposd::display::Picture;
use std::path::Path;
use std::process::{Command, Output};

fn mposd_display(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mposd"))
        .arg("display")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run mposd display")
}

#[test]
fn render_draws_the_payload_of_the_beacon_given() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("scan.png");
    let run = mposd_display(&["--beacon", GUID, "render", "--size", "320x240"], &png);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("QR code: 37 modules"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let picture = Picture::read_png(std::fs::File::open(&png).unwrap()).unwrap();
    assert_eq!(
        picture.decode_qr_codes(),
        vec!["mobilepaypos://pos?id=cd851cd7-8398-4a03-83c1-391a2f5cb71c&source=qr"]
    );

    let idle = dir.path().join("idle.png");
    let run = mposd_display(&["render", "--screen", "idle"], &idle);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let picture = Picture::read_png(std::fs::File::open(&idle).unwrap()).unwrap();
    assert_eq!(
        picture.decode_qr_codes(),
        vec!["mobilepaypos://pos?id=123456789012345&source=qr"],
        "the default beacon id"
    );
}

#[test]
fn a_beacon_id_that_cannot_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("scan.png");
    for bad in ["12345", "CD851CD7-8398-4A03-83C1", "1234567890123456"] {
        let run = mposd_display(&["--beacon", bad, "render"], &png);
        assert!(!run.status.success(), "{bad} accepted");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("mposd: --beacon must be 15 digits or a GUID"),
            "{bad}: {stderr}"
        );
        assert!(!png.exists(), "{bad}: a screen was drawn");
    }
}
