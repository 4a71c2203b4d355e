//! A QR code the payment backend drew: the simulator's ePayment API creates a `userFlow: QR`
//! payment with a PNG image, the display follows a lane that prompts with the image's
//! address, fetches it over loopback HTTP and shows the backend's symbol, which a camera
//! (rqrr, on the PNG the display wrote) reads as the payment's target. When the image cannot
//! be had (the payment expired, an unknown token, an SVG instead of a PNG) the screen shows
//! the amount and asks the customer to turn to the cashier.

use crate::client_support::LogCapture;
use crate::renderer::wait_for;
use embedded_graphics::prelude::*;
use mposd::display::settings::{DisplaySettings, RunningDisplay};
use mposd::display::{render_picture, BackendCode, Look, Picture, Screen};
use mposd::engine::backend::CustomerPrompt;
use mposd::engine::{CommandId, EngineHandle, EventKind, LaneEvent};
use mposd::money::{Currency, Minor};
use mposd::sim::fixtures::{EP_CLIENT_ID, EP_CLIENT_SECRET, EP_MSN, EP_SUBSCRIPTION_KEY};
use mposd::sim::{SimConfig, Simulator};
use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::sync::broadcast;

const AMOUNT: Minor = Minor(12_950);

/// The simulator with an ePayment token for its built-in sales unit.
struct EpSim {
    sim: Simulator,
    http: reqwest::Client,
    token: String,
}

impl EpSim {
    async fn start() -> EpSim {
        let sim = mposd::sim::start(SimConfig::default())
            .await
            .expect("the simulator starts");
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("{}/accesstoken/get", sim.base_url()))
            .header("client_id", EP_CLIENT_ID)
            .header("client_secret", EP_CLIENT_SECRET)
            .header("Ocp-Apim-Subscription-Key", EP_SUBSCRIPTION_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = answer["access_token"].as_str().expect("a token").to_string();
        EpSim { sim, http, token }
    }

    /// Creates a `userFlow: QR` payment with the image format `qr_format`; returns its
    /// reference and `redirectUrl` (the image's address).
    async fn qr_payment(&self, qr_format: Value) -> (String, String) {
        let reference = format!("display-{}", uuid::Uuid::new_v4().simple());
        let response = self
            .http
            .post(format!("{}/epayment/v1/payments", self.sim.base_url()))
            .bearer_auth(&self.token)
            .header("Ocp-Apim-Subscription-Key", EP_SUBSCRIPTION_KEY)
            .header("Merchant-Serial-Number", EP_MSN)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .header("Vipps-System-Name", "mposd")
            .header("Vipps-System-Version", "1.0.0")
            .json(&json!({
                "amount": {"currency": "DKK", "value": AMOUNT.0},
                "paymentMethod": {"type": "WALLET"},
                "reference": reference,
                "userFlow": "QR",
                "customerInteraction": "CUSTOMER_PRESENT",
                "qrFormat": qr_format,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "the payment is created");
        let body: Value = response.json().await.unwrap();
        let url = body["redirectUrl"].as_str().expect("redirectUrl").to_string();
        (reference, url)
    }

    /// What the payment's QR code encodes, from the simulator's ground truth.
    async fn qr_content(&self, reference: &str) -> String {
        let all: Value = self
            .http
            .get(format!("{}/_sim/epayment/payments", self.sim.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let payment = all["payments"]
            .as_array()
            .expect("payments")
            .iter()
            .find(|p| p["reference"] == json!(reference))
            .expect("the payment in the ground truth");
        payment["qrContent"].as_str().expect("qrContent").to_string()
    }

    async fn advance_ms(&self, ms: u64) {
        let response = self
            .http
            .post(format!("{}/_sim/clock/advance", self.sim.base_url()))
            .json(&json!({ "ms": ms }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}

/// A display on a 320×240 PNG panel following a lane whose events the test sends.
struct Lane {
    _dir: tempfile::TempDir,
    png: PathBuf,
    events: broadcast::Sender<LaneEvent>,
    display: RunningDisplay,
    look: Look,
}

impl Lane {
    fn start() -> Lane {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("display.png");
        std::fs::write(
            dir.path().join("till.toml"),
            format!(
                "name = \"till\"\ndescription = \"x\"\n[display]\nkind = \"png\"\npath = \"{}\"\nwidth = 320\nheight = 240\n",
                png.display()
            ),
        )
        .unwrap();
        let settings: DisplaySettings = toml::from_str(&format!(
            "board = \"till\"\nboards_dir = \"{}\"\nlanguage = \"en\"\nheader = \"Bakery - till 1\"\nresult_hold_ms = 60000\n",
            dir.path().display()
        ))
        .unwrap();
        // The engine's own handle type; its driver is replaced by the channels' other ends.
        let (requests, _driver) = tokio::sync::mpsc::channel(4);
        let (events, _) = broadcast::channel(16);
        let engine = EngineHandle::new(requests, events.clone(), "pos-1".into());
        let display = settings.start(&engine, None, Currency::DKK).unwrap();
        Lane {
            _dir: dir,
            png,
            events,
            look: settings.look(),
            display,
        }
    }

    /// The engine's prompt for sale `command`: scan the backend's image at `url`.
    fn waiting(&self, command: &str, url: &str) {
        let kind = EventKind::WaitingForCustomer {
            payment_id: "p1".into(),
            prompt: Some(CustomerPrompt::QrImage { url: url.into() }),
            amount: Some(AMOUNT),
            currency: Some(Currency::DKK),
        };
        self.send(command, kind);
    }

    fn send(&self, command: &str, kind: EventKind) {
        let event = LaneEvent {
            point_of_sale: "pos-1".into(),
            command_id: Some(CommandId::new(command).unwrap()),
            at_ms: 0,
            kind,
            submitters: Vec::new(),
        };
        self.events.send(event).unwrap();
    }

    fn picture(&self) -> Picture {
        Picture::read_png(std::fs::File::open(&self.png).unwrap()).unwrap()
    }

    /// Waits for the screen of `kind` and returns it with the picture on the panel.
    async fn showing(&self, kind: &'static str) -> (Screen, Picture) {
        let handle = &self.display.handle;
        wait_for(handle, kind, |s| s.showing == Some(kind)).await;
        (handle.current(), self.picture())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_display_shows_the_symbol_the_backend_drew() {
    let ep = EpSim::start().await;
    let lane = Lane::start();
    let (reference, url) = ep.qr_payment(json!({"format": "IMAGE/PNG", "size": 400})).await;
    lane.waiting("sale-1", &url);

    let (screen, picture) = lane.showing("scan-to-pay").await;
    let Screen::ScanBackendCode {
        amount: AMOUNT,
        currency: Currency::DKK,
        code: BackendCode::Ready(symbol),
    } = &screen
    else {
        panic!("not the backend's code with the amount: {screen:?}");
    };
    let target = ep.qr_content(&reference).await;
    assert_eq!(picture.decode_qr_codes(), vec![target.clone()]);
    // The panel shows exactly that screen: the backend's modules at whole pixels each, the
    // amount and the scan-to-pay text.
    let (expected, report) = render_picture(picture.size(), &screen, &lane.look).unwrap();
    assert!(picture == expected, "the panel shows the rendered screen");
    let placement = report.qr.expect("a QR code placed");
    assert_eq!(placement.modules, symbol.width);
    assert!(placement.module_px >= 2, "{placement:?}");
    assert!(report.texts.iter().any(|t| t.text == "DKK 129.50"));
    assert!(report
        .texts
        .iter()
        .any(|t| t.text == "Scan the code with MobilePay"));
}

/// The screen a failed image leaves: the amount and the request to ask the cashier, and no
/// code at all.
async fn assert_unavailable(lane: &Lane) {
    let (screen, picture) = lane.showing("code-unavailable").await;
    assert_eq!(
        screen,
        Screen::ScanBackendCode {
            amount: AMOUNT,
            currency: Currency::DKK,
            code: BackendCode::Unavailable,
        }
    );
    assert!(picture.decode_qr_codes().is_empty());
    let (expected, report) = render_picture(picture.size(), &screen, &lane.look).unwrap();
    assert!(picture == expected, "the panel shows the fallback screen");
    let texts: Vec<&str> = report.texts.iter().map(|t| t.text.as_str()).collect();
    assert!(texts.contains(&"DKK 129.50"), "{texts:?}");
    assert!(
        texts.contains(&"The QR code cannot be shown. Please ask the cashier"),
        "{texts:?}"
    );
}

/// Runs on one thread so the log capture sees the display's tasks.
#[tokio::test(flavor = "current_thread")]
async fn an_expired_payments_image_is_gone_and_the_customer_asks_the_cashier() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let ep = EpSim::start().await;
    let (_, url) = ep.qr_payment(json!({"format": "IMAGE/PNG", "size": 400})).await;
    let token = url.split("token=").nth(1).expect("a token").to_string();
    // The image lives as long as the payment can be paid: ten minutes.
    ep.advance_ms(10 * 60_000).await;
    let unknown = format!("{}/qr-image/v1?token=never-issued-f00d", ep.sim.base_url());
    // An address whose token the backend never issued fails the same way.
    for url in [url, unknown] {
        let lane = Lane::start();
        lane.waiting("sale-1", &url);
        assert_unavailable(&lane).await;
    }
    // Each failure is logged once, with the address but never its token.
    let text = logs.text();
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("QR code cannot be shown"))
        .collect();
    assert_eq!(failures.len(), 2, "{text}");
    for failure in failures {
        assert!(failure.contains("HTTP 404"), "{failure}");
        assert!(failure.contains("/qr-image/v1"), "{failure}");
    }
    assert!(!text.contains(&token), "the token was logged: {text}");
    assert!(!text.contains("never-issued"), "the token was logged: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_is_not_a_png_is_not_shown() {
    let ep = EpSim::start().await;
    let lane = Lane::start();
    // An SVG answered with 200: a body the display cannot read as a picture.
    let (_, url) = ep.qr_payment(json!({"format": "IMAGE/SVG+XML"})).await;
    lane.waiting("sale-1", &url);
    assert_unavailable(&lane).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_image_shows_the_amount_meanwhile_and_never_holds_up_the_payment() {
    // A server that accepts the connection and never answers.
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/qr-image/v1?token=t1", server.local_addr().unwrap());
    let lane = Lane::start();
    lane.waiting("sale-1", &url);
    let (mut connection, _) = server.accept().await.unwrap();
    let (screen, picture) = lane.showing("code-loading").await;
    assert_eq!(
        screen,
        Screen::ScanBackendCode {
            amount: AMOUNT,
            currency: Currency::DKK,
            code: BackendCode::Loading,
        }
    );
    assert!(picture.decode_qr_codes().is_empty());

    // The customer found the payment another way: the screen follows at once.
    lane.send(
        "sale-1",
        EventKind::CustomerCheckedIn {
            payment_id: "p1".into(),
            customer: Default::default(),
        },
    );
    lane.showing("checked-in").await;

    // The fetch gives up within its time limit and closes the connection; its failure
    // comes too late for this payment and changes nothing.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        while connection.read(&mut buf).await.unwrap_or(0) > 0 {}
    })
    .await;
    assert!(closed.is_ok(), "the stalled fetch was never given up");
    assert_eq!(
        lane.display.handle.current(),
        Screen::CheckedIn {
            amount: Some((AMOUNT, Currency::DKK))
        }
    );
}
