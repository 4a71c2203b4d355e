//! A simulator, its control API, a database directory and a clock shared with the simulator.

use mposd::{
    backends::pos_v10::{
        model::{BeaconType, InitiatePaymentRequest, PlannedCaptureDelay},
        onboarding::{self, BeaconChoice, OnboardedPos, PendingCreations, PosSettings, StoreRef},
        ClientConfig, Clock, Correlation, Credentials, Endpoints, IdempotencyKey, MobilePayClient, Secret,
        TokenSettings,
    },
    money::{Currency, MajorAmount, Minor},
    sim::{self, SimConfig, Simulator},
    store::Db,
};
use serde_json::{json, Value};
use std::{
    future::Future,
    path::PathBuf,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

pub use mposd::sim::fixtures::{
    DEMO_CLIENT_ID as CLIENT_ID, DEMO_CLIENT_SECRET as SECRET, DK_STORE as STORE, DK_VAT as VAT,
};

/// The client's view of the simulator's virtual clock: real time plus the same offset.
#[derive(Default)]
pub struct SimClock {
    offset_ms: AtomicI64,
}

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        let offset = self.offset_ms.load(Ordering::SeqCst);
        SystemTime::now() + Duration::from_millis(offset.max(0) as u64)
    }
}

pub struct Harness {
    pub sim: Simulator,
    pub control: Control,
    pub clock: Arc<SimClock>,
    pub dir: tempfile::TempDir,
    pub ca_file: Option<PathBuf>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with(SimConfig::default()).await
    }

    pub async fn with(config: SimConfig) -> Harness {
        let sim = sim::start(config).await.expect("simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let ca_file = sim.ca_pem().map(|pem| {
            let path = dir.path().join("sim-ca.pem");
            std::fs::write(&path, pem).unwrap();
            path
        });
        let mut http = reqwest::Client::builder().use_rustls_tls();
        if let Some(pem) = sim.ca_pem() {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        let control = Control {
            http: http.build().unwrap(),
            base: sim.base_url(),
        };
        Harness {
            sim,
            control,
            clock: Arc::new(SimClock::default()),
            dir,
            ca_file,
        }
    }

    /// Generous timeouts: on a loaded machine a plain request must never time out by accident.
    /// Tests of the timeout rules use [`Harness::strict_config`].
    pub fn config(&self) -> ClientConfig {
        let mut config = self.strict_config();
        config.timeouts.read = Duration::from_secs(10);
        config.timeouts.write = Duration::from_secs(10);
        config
    }

    /// MobilePay's timeouts (2 s / 0.5 s) and retry defaults.
    pub fn strict_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(Endpoints::single_host(&self.sim.base_url()).unwrap(), CLIENT_ID);
        config.retry.base_delay = Duration::from_millis(50);
        config.extra_ca_file = self.ca_file.clone();
        config
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn open_db(&self) -> Arc<Db> {
        Arc::new(Db::open(&self.db_path(), 4 << 20).unwrap())
    }

    pub fn client(&self, db: Arc<Db>) -> MobilePayClient {
        self.client_with(db, self.config(), Secret::new(SECRET), TokenSettings::default())
    }

    pub fn client_with(
        &self,
        db: Arc<Db>,
        config: ClientConfig,
        secret: Secret,
        settings: TokenSettings,
    ) -> MobilePayClient {
        MobilePayClient::with_clock(
            config,
            VAT,
            Credentials::ClientSecret(secret),
            db,
            self.clock.clone(),
            settings,
        )
        .unwrap()
    }

    /// Moves the simulator's virtual clock and the client's clock together.
    pub async fn advance(&self, by: Duration) {
        let ms = by.as_millis() as i64;
        self.control
            .post("/_sim/clock/advance", json!({ "ms": ms }))
            .await;
        self.clock.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

pub fn pos_settings(merchant_pos_id: &str) -> PosSettings {
    PosSettings {
        vat: VAT.into(),
        store: StoreRef::Id(STORE.into()),
        merchant_pos_id: merchant_pos_id.into(),
        name: "Kasse 1".into(),
        beacon: BeaconChoice::Generated,
        supported_beacon_types: vec![BeaconType::QR],
        require_payment_before_checkin: false,
    }
}

pub async fn onboard(client: &MobilePayClient, db: &Arc<Db>, settings: &PosSettings) -> OnboardedPos {
    let pending = PendingCreations::open(db.clone()).unwrap();
    onboarding::onboard(client, &pending, &Correlation::new("onboarding"), settings, &[])
        .await
        .expect("onboarding succeeds")
}

pub fn payment_request(pos_id: &str, order_id: &str, amount: Minor) -> InitiatePaymentRequest {
    InitiatePaymentRequest {
        pos_id: pos_id.into(),
        order_id: order_id.into(),
        amount: MajorAmount::from_minor(amount),
        currency_code: Currency::DKK,
        restrictions: None,
        merchant_payment_label: None,
        planned_capture_delay: PlannedCaptureDelay::None,
    }
}

pub async fn initiate(client: &MobilePayClient, pos_id: &str, order_id: &str) -> String {
    client
        .initiate_payment(
            &Correlation::new("payment"),
            &IdempotencyKey::generate(),
            &payment_request(pos_id, order_id, Minor(4995)),
        )
        .await
        .expect("payment initiated")
        .payment_id
}

/// The simulator's control API.
pub struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The next `count` calls of `endpoint` get `mode` (`delay`, `serverError`,
    /// `commitThenDrop`, `unauthorized`).
    pub async fn fault(&self, endpoint: &str, mode: &str, count: u32, delay_ms: Option<u64>) {
        let mut body = json!({ "endpoint": endpoint, "mode": mode, "count": count });
        if let Some(ms) = delay_ms {
            body["delayMs"] = json!(ms);
        }
        self.post("/_sim/faults", body).await;
    }

    /// The request log entries of one endpoint, oldest first.
    pub async fn log(&self, endpoint: &str) -> Vec<Value> {
        let requests = self.get("/_sim/requests").await;
        requests["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["endpoint"] == endpoint)
            .cloned()
            .collect()
    }

    pub async fn count(&self, endpoint: &str) -> u64 {
        let requests = self.get("/_sim/requests").await;
        requests["counts"][endpoint].as_u64().unwrap_or(0)
    }

    /// Every PoS the simulator ever had (deleted ones included).
    pub async fn pointofsales(&self) -> Vec<Value> {
        self.get("/_sim/pointofsales").await["pointOfSales"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn payments(&self) -> Vec<Value> {
        self.get("/_sim/payments").await["payments"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// An automatic customer on `beacon_id` (`accept`, `cancel`, `checkin`, `never`).
    pub async fn customer(&self, beacon_id: &str, action: &str) {
        self.post(
            "/_sim/behaviour",
            json!({ "beaconId": beacon_id, "phoneNumber": "+4520031805", "action": action, "delayMs": 0 }),
        )
        .await;
    }
}

/// Waits for `check` to hold, failing after a generous deadline.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The idempotency keys of log entries.
pub fn keys(entries: &[Value]) -> Vec<Option<String>> {
    entries
        .iter()
        .map(|e| e["idempotencyKey"].as_str().map(str::to_string))
        .collect()
}

pub fn statuses(entries: &[Value]) -> Vec<Option<u64>> {
    entries.iter().map(|e| e["status"].as_u64()).collect()
}

/// Everything logged through a subscriber made by [`LogCapture::subscriber`], as text.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Logs everything, at every level, from every crate.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
