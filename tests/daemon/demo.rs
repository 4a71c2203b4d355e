//! `mposd demo` runs its whole day, saves the customer screens and leaves nothing running.

use super::support::MPOSD;
use mposd::display::picture::Picture;

#[tokio::test]
async fn the_demo_day_completes_and_its_screens_show_a_scannable_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo");
    let run = tokio::process::Command::new(MPOSD)
        .args(["demo", "--no-screens", "--out"])
        .arg(&out)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for scene in [
        "1. A payment",
        "2. A prepared payment",
        "3. A reservation",
        "4. A customer who declines",
        "5. A refund",
        "7. An invoice",
        "8. Joining the bread club",
    ] {
        assert!(stdout.contains(scene), "missing scene {scene}:\n{stdout}");
    }
    assert!(
        stdout.contains("Everything the demo started has stopped"),
        "{stdout}"
    );

    let mut screens: Vec<_> = std::fs::read_dir(out.join("screens"))
        .expect("screens folder")
        .map(|e| e.expect("entry").path())
        .collect();
    screens.sort();
    let scans: Vec<_> = screens
        .iter()
        .filter(|p| p.to_string_lossy().ends_with("scan-to-pay.png"))
        .collect();
    assert!(scans.len() >= 3, "{screens:?}");
    for scan in scans {
        let picture = Picture::read_png(std::fs::File::open(scan).expect("open png")).expect("read png");
        let codes = picture.decode_qr_codes();
        assert_eq!(codes.len(), 1, "{}: {codes:?}", scan.display());
        assert!(
            codes[0].starts_with("mobilepaypos://pos?id=") && codes[0].ends_with("&source=qr"),
            "{codes:?}"
        );
    }
    assert!(screens
        .iter()
        .any(|p| p.to_string_lossy().ends_with("declined.png")));
    // The invoice's and the agreement's codes read back from their screens are MobilePay's
    // landing pages of an invoice and of an agreement.
    for (screen, landing) in [
        ("invoice-to-scan.png", "/usersettings-landing-website/?token="),
        (
            "agreement-to-scan.png",
            "/subscriptions-landing-website/?flow=agreement&id=",
        ),
    ] {
        let path = screens
            .iter()
            .find(|p| p.to_string_lossy().ends_with(screen))
            .unwrap_or_else(|| panic!("no {screen} in {screens:?}"));
        let picture = Picture::read_png(std::fs::File::open(path).expect("open png")).expect("read png");
        let codes = picture.decode_qr_codes();
        assert!(
            codes.len() == 1 && codes[0].contains(landing),
            "{screen}: {codes:?}"
        );
    }
    for outcome in ["paid: invoice", "signed up: agreement"] {
        assert!(stdout.contains(outcome), "{outcome}:\n{stdout}");
    }
    assert!(out.join("mposd.log").exists() && out.join("sim.log").exists());

    // The daemon and simulator it started are gone: its state store can be opened again.
    mposd::store::Db::open(&out.join("state").join("store"), 1 << 20).expect("the store is no longer in use");
}

#[tokio::test]
async fn the_epayment_day_shows_each_payments_own_code_read_back_from_the_screen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo");
    let run = tokio::process::Command::new(MPOSD)
        .args(["demo", "--backend", "epayment", "--no-screens", "--out"])
        .arg(&out)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The demo itself compares the code on the screen with the payment's URL at the simulator.
    assert!(
        stdout.contains("the code on the display reads http://127.0.0.1:"),
        "{stdout}"
    );
    let mut codes = Vec::new();
    for entry in std::fs::read_dir(out.join("screens")).expect("screens folder") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().ends_with("scan-to-pay.png") {
            let picture = Picture::read_png(std::fs::File::open(&path).expect("open png")).expect("read png");
            codes.extend(picture.decode_qr_codes());
        }
    }
    assert_eq!(codes.len(), 3, "one code per sale the customer scans: {codes:?}");
    assert!(
        stdout.contains("\"flow\":\"phone\"")
            && out.join("screens").read_dir().unwrap().any(|e| {
                e.unwrap()
                    .path()
                    .to_string_lossy()
                    .ends_with("approve-in-app.png")
            }),
        "a pushed sale asks the customer to approve in the app:\n{stdout}"
    );
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 3, "each payment has its own code");
    assert!(
        codes.iter().all(|c| c.contains("/landing/v1?token=")),
        "{codes:?}"
    );
}
