//! The renderer beside the engine: a slow panel (a pipe nobody reads) never blocks
//! `show`, updates are coalesced to the newest screen, a failing device (/dev/full) is
//! reported and retried, and lane events drive the screens.

use crate::outputs::parse_terminal;
use crate::support::{look, GUID};
use embedded_graphics::prelude::*;
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::output::framebuffer::{FbGeometry, FramebufferSink, PixelFormat};
use mposd::display::output::rotation::Rotation;
use mposd::display::output::terminal::TerminalSink;
use mposd::display::output::Graphic;
use mposd::display::renderer::{spawn, DisplayHandle, DisplayStatus};
use mposd::display::settings::DisplaySettings;
use mposd::display::{Language, Picture, Reason, Screen};
use mposd::engine::{CommandId, EngineHandle, EventKind, LaneEvent, Outcome};
use mposd::money::{Currency, Minor};
use std::io::Read;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

pub async fn wait_for(
    handle: &DisplayHandle,
    what: &str,
    ok: impl Fn(&DisplayStatus) -> bool,
) -> DisplayStatus {
    let mut status = handle.watch_status();
    let result = tokio::time::timeout(DEADLINE, status.wait_for(|s| ok(s))).await;
    match result {
        Ok(Ok(s)) => s.clone(),
        _ => panic!("display never reached: {what}; status {:?}", handle.status()),
    }
}

fn scan() -> Screen {
    Screen::ScanToPay {
        amount: Minor(4995),
        currency: Currency::DKK,
        qr: qr_payload(GUID),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_panel_never_blocks_and_only_the_newest_screen_is_drawn() {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    let mut reader = std::fs::File::from(reader);
    let writer = std::fs::File::from(writer);
    // An 800x480 frame in half blocks is far larger than the 64 KiB pipe buffer, so the
    // renderer stays stuck in its first write until the test reads.
    let output = Graphic::new(TerminalSink::new(writer, Size::new(800, 480), 1));
    let (handle, task) = spawn(Box::new(output), look(Language::Da), scan());

    // Once the first byte arrives the renderer is inside its first write and stays blocked:
    // everything shown meanwhile must return at once and be coalesced.
    let mut reader = tokio::task::spawn_blocking(move || {
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).unwrap();
        reader
    })
    .await
    .unwrap();
    handle.show(Screen::CheckedIn { amount: None });
    handle.show(Screen::Approved {
        amount: Minor(4995),
        currency: Currency::DKK,
    });
    handle.show(Screen::Declined {
        reason: Reason::TimedOut,
    });
    assert_eq!(
        handle.status().frames,
        0,
        "the first frame cannot have completed yet"
    );

    let drain = std::thread::spawn(move || {
        let mut all = vec![0x1b];
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        all
    });
    let status = wait_for(&handle, "the newest screen", |s| s.showing == Some("declined")).await;
    assert_eq!(
        status.frames, 2,
        "intermediate screens must be skipped: {status:?}"
    );
    assert!(status.healthy);
    drop(handle);
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    // The renderer dropped the output and with it the pipe's write end: the drain ends.
    let output = String::from_utf8(drain.join().unwrap()).unwrap();
    let frames: Vec<&str> = output.split("\x1b[H").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.len(), 2);
    let first = parse_terminal(&format!("\x1b[H{}", frames[0]));
    assert_eq!(first.decode_qr_codes(), vec![qr_payload(GUID)]);
    assert!(parse_terminal(&format!("\x1b[H{}", frames[1]))
        .decode_qr_codes()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_display_is_reported_and_retried_without_stopping_anything() {
    let geometry = FbGeometry {
        width: 240,
        height: 240,
        stride: 480,
        format: PixelFormat::Rgb565,
    };
    let sink =
        FramebufferSink::open(std::path::Path::new("/dev/full"), Some(geometry), Rotation::NONE).unwrap();
    let (handle, task) = spawn(Box::new(Graphic::new(sink)), look(Language::En), scan());
    let status = wait_for(&handle, "a reported failure", |s| s.failures >= 1).await;
    assert!(!status.healthy);
    assert_eq!(status.frames, 0);
    let error = status.last_error.unwrap();
    assert!(error.contains("/dev/full"), "{error}");
    assert!(status.output.contains("/dev/full"));

    handle.show(Screen::Closed);
    assert_eq!(handle.current(), Screen::Closed);
    wait_for(&handle, "a retry", |s| s.failures >= 2).await;
    assert!(!task.is_finished(), "the renderer keeps running");
    drop(handle);
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
}

fn event(command: &str, kind: EventKind) -> LaneEvent {
    LaneEvent {
        point_of_sale: "pos-1".into(),
        command_id: Some(CommandId::new(command).unwrap()),
        at_ms: 0,
        kind,
        submitters: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lane_events_drive_the_display_and_results_return_to_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("display.png");
    std::fs::write(
        dir.path().join("bench.toml"),
        format!(
            "name = \"bench\"\ndescription = \"x\"\n[display]\nkind = \"png\"\npath = \"{}\"\nwidth = 320\nheight = 240\n",
            path.display()
        ),
    )
    .unwrap();
    let settings: DisplaySettings = toml::from_str(&format!(
        "board = \"bench\"\nboards_dir = \"{}\"\nlanguage = \"fi\"\nheader = \"Kahvila Äänekoski\"\nidle_qr = true\nresult_hold_ms = 500\n",
        dir.path().display()
    ))
    .unwrap();
    // The engine's own handle type; its driver is replaced by the channels' other ends.
    let (requests, _driver) = tokio::sync::mpsc::channel(4);
    let (events, _) = tokio::sync::broadcast::channel(16);
    let engine = EngineHandle::new(requests, events.clone(), "pos-1".into());
    let running = settings
        .start(&engine, Some(&qr_payload(GUID)), Currency::EUR)
        .unwrap();
    let handle = running.handle.clone();
    let idle = Screen::Idle {
        qr: Some(qr_payload(GUID)),
    };
    assert_eq!(handle.current(), idle);

    events
        .send(event(
            "sale-1",
            EventKind::WaitingForCustomer {
                payment_id: "p1".into(),
                prompt: Some(mposd::backends::pos_v10::engine::prompt(GUID)),
                amount: Some(Minor(2450)),
                currency: Some(Currency::EUR),
            },
        ))
        .unwrap();
    wait_for(&handle, "scan to pay", |s| s.showing == Some("scan-to-pay")).await;
    let picture = Picture::read_png(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(picture.decode_qr_codes(), vec![qr_payload(GUID)]);

    events
        .send(event(
            "sale-1",
            EventKind::Finished {
                outcome: Outcome::Captured {
                    payment_id: "p1".into(),
                    amount: Minor(2450),
                    currency: Currency::EUR,
                },
            },
        ))
        .unwrap();
    wait_for(&handle, "approved", |s| s.showing == Some("approved")).await;
    assert!(Picture::read_png(std::fs::File::open(&path).unwrap())
        .unwrap()
        .decode_qr_codes()
        .is_empty());
    wait_for(&handle, "back to idle", |s| s.showing == Some("idle")).await;
    assert_eq!(handle.current(), idle);
    let picture = Picture::read_png(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(
        picture.decode_qr_codes(),
        vec![qr_payload(GUID)],
        "the idle screen invites check-in"
    );

    drop(events);
    drop(engine);
    tokio::time::timeout(DEADLINE, running.follower)
        .await
        .unwrap()
        .unwrap();
    drop(handle);
    drop(running.handle);
    tokio::time::timeout(DEADLINE, running.renderer)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_that_appears_later_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("later");
    let text = format!(
        "name = \"late\"\ndescription = \"x\"\n[display]\nkind = \"png\"\npath = \"{}/display.png\"\nwidth = 240\nheight = 320\n",
        target.display()
    );
    std::fs::write(dir.path().join("late.toml"), text).unwrap();
    let profile = mposd::display::board::BoardProfile::load("late", Some(dir.path())).unwrap();
    let (handle, task) = mposd::display::start(profile, look(Language::En), Some(&qr_payload(GUID)), scan());
    let status = wait_for(&handle, "the missing directory reported", |s| s.failures >= 1).await;
    assert!(status.last_error.unwrap().contains("does not exist"));

    std::fs::create_dir(&target).unwrap();
    let status = wait_for(&handle, "recovery", |s| s.healthy).await;
    assert_eq!(status.frames, 1);
    assert!(
        status.output.contains("png") && status.output.contains("late"),
        "{}",
        status.output
    );
    let picture = Picture::read_png(std::fs::File::open(target.join("display.png")).unwrap()).unwrap();
    assert_eq!(picture.decode_qr_codes(), vec![qr_payload(GUID)]);
    drop(handle);
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
}
