//! Invoices on a real display: the renderer writing PNG files for the smallest supported
//! panel, following a lane's events as the engine sends them. The invoice link is read back
//! from the pixels of the file; a pushed invoice shows no code; an invoice that ends long
//! after the customer left never takes the screen from the next sale.

use crate::renderer::wait_for;
use crate::support::{due_date, GUID, INVOICE_LINK};
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::settings::{DisplaySettings, RunningDisplay};
use mposd::display::Picture;
use mposd::engine::{CommandId, EngineHandle, EventKind, LaneEvent, Outcome};
use mposd::money::{Currency, Minor};
use std::path::{Path, PathBuf};
use tokio::sync::broadcast;

/// A lane's display on a 240×240 PNG panel (the 1.3" board's size), following `events`.
/// Results stay on screen for the whole test (a minute).
pub struct Bench {
    _dir: tempfile::TempDir,
    png: PathBuf,
    events: broadcast::Sender<LaneEvent>,
    _engine: EngineHandle,
    pub display: RunningDisplay,
}

pub fn bench(language: &str) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("display.png");
    std::fs::write(
        dir.path().join("small.toml"),
        format!(
            "name = \"small\"\ndescription = \"x\"\n[display]\nkind = \"png\"\npath = \"{}\"\nwidth = 240\nheight = 240\n",
            png.display()
        ),
    )
    .unwrap();
    let settings: DisplaySettings = toml::from_str(&format!(
        "board = \"small\"\nboards_dir = \"{}\"\nlanguage = \"{language}\"\nheader = \"Bageriet\"\nresult_hold_ms = 60000\n",
        dir.path().display()
    ))
    .unwrap();
    // The engine's own handle type; its driver is replaced by the channels' other ends.
    let (requests, _driver) = tokio::sync::mpsc::channel(4);
    let (events, _) = broadcast::channel(16);
    let engine = EngineHandle::new(requests, events.clone(), "pos-1".into());
    let display = settings.start(&engine, None, Currency::DKK).unwrap();
    Bench {
        _dir: dir,
        png,
        events,
        _engine: engine,
        display,
    }
}

impl Bench {
    pub fn send(&self, command: Option<&str>, kind: EventKind) {
        self.events
            .send(LaneEvent {
                point_of_sale: "pos-1".into(),
                command_id: command.map(|c| CommandId::new(c).unwrap()),
                at_ms: 0,
                kind,
                submitters: Vec::new(),
            })
            .unwrap();
    }

    pub async fn shows(&self, kind: &'static str) {
        wait_for(&self.display.handle, kind, |s| s.showing == Some(kind)).await;
    }

    pub fn codes(&self) -> Vec<String> {
        read(&self.png).decode_qr_codes()
    }
}

fn read(path: &Path) -> Picture {
    Picture::read_png(std::fs::File::open(path).unwrap()).unwrap()
}

fn issued(link: Option<&str>, phone: Option<&str>) -> EventKind {
    EventKind::InvoiceIssued {
        invoice_id: "i1".into(),
        link: link.map(str::to_string),
        phone: phone.map(str::to_string),
        amount: Minor(34_900),
        currency: Currency::DKK,
        due_date: due_date(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_link_is_read_back_from_the_smallest_panel_and_kept_while_offline() {
    let bench = bench("da");
    bench.send(Some("inv-1"), issued(Some(INVOICE_LINK), None));
    bench.shows("invoice-link").await;
    assert_eq!(bench.codes(), vec![INVOICE_LINK.to_string()]);

    bench.send(None, EventKind::BackendOffline);
    bench.shows("offline").await;
    assert!(bench.codes().is_empty());
    bench.send(None, EventKind::BackendOnline);
    bench.shows("invoice-link").await;
    assert_eq!(
        bench.codes(),
        vec![INVOICE_LINK.to_string()],
        "the customer can still scan the invoice"
    );

    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
    bench.send(
        Some("inv-1"),
        EventKind::InvoiceScheduled {
            invoice_id: "i1".into(),
            payment_date: Some(day),
        },
    );
    bench.send(
        Some("inv-1"),
        EventKind::Finished {
            outcome: Outcome::InvoiceScheduled {
                invoice_id: "i1".into(),
                amount: Minor(34_900),
                currency: Currency::DKK,
                payment_date: Some(day),
            },
        },
    );
    bench.shows("invoice-scheduled").await;
    assert!(bench.codes().is_empty(), "no code once the invoice is dealt with");
    assert_eq!(bench.display.handle.status().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_invoice_shows_no_code_and_its_late_end_leaves_the_next_sale_alone() {
    let bench = bench("en");
    // MobilePay may hand out a link for a pushed invoice too; it is not for the display.
    bench.send(Some("inv-1"), issued(Some(INVOICE_LINK), Some("+••••••5678")));
    bench.shows("invoice-pushed").await;
    assert!(bench.codes().is_empty());
    bench.send(
        Some("inv-1"),
        EventKind::Finished {
            outcome: Outcome::InvoiceOutstanding {
                invoice_id: "i1".into(),
                amount: Minor(34_900),
                currency: Currency::DKK,
                due_date: due_date(),
            },
        },
    );
    bench.shows("invoice-outstanding").await;

    // The next customer pays; meanwhile the invoice is paid at last.
    bench.send(
        Some("sale-2"),
        EventKind::WaitingForCustomer {
            payment_id: "p2".into(),
            prompt: Some(mposd::backends::pos_v10::engine::prompt(GUID)),
            amount: Some(Minor(2_450)),
            currency: Some(Currency::DKK),
        },
    );
    bench.shows("scan-to-pay").await;
    assert_eq!(bench.codes(), vec![qr_payload(GUID)]);
    bench.send(
        Some("inv-1"),
        EventKind::InvoicePaid {
            invoice_id: "i1".into(),
            amount: Minor(34_900),
        },
    );
    bench.send(
        Some("inv-1"),
        EventKind::Resolved {
            outcome: Outcome::InvoicePaid {
                invoice_id: "i1".into(),
                amount: Minor(34_900),
                currency: Currency::DKK,
            },
        },
    );
    // Had the late end taken the screen, the sale would have lost it and its check-in
    // would not show.
    bench.send(
        Some("sale-2"),
        EventKind::CustomerCheckedIn {
            payment_id: "p2".into(),
            customer: Default::default(),
        },
    );
    bench.shows("checked-in").await;
    assert_eq!(
        bench.display.handle.current(),
        mposd::display::Screen::CheckedIn {
            amount: Some((Minor(2_450), Currency::DKK))
        }
    );
    assert!(bench.codes().is_empty());
}
