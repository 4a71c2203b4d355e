//! The MobilePay Invoice client against the simulator: a merchant's consent got through the
//! simulator's OpenID Connect provider (the portal user played through its control API), the
//! client and a lane's invoices over it, invoices dated on the simulator's clock, and the
//! simulator's ground truth.

use super::support::*;
use chrono::NaiveDate;
use mposd::{
    backends::invoice_v1::{GatewayApp, InvoiceBackend, InvoiceClient, InvoiceConfig},
    consent::{
        driver::Consent,
        refresh::Rotation,
        store::{ConsentFile, Record, RefreshToken},
        ClientSettings,
    },
    engine::{
        backend::{BackendError, CorrelationId, OrderLine},
        invoicing::{InvoiceDelivery, NewInvoice},
    },
    money::{Currency, Minor},
    secrets::Secret,
    sim::fixtures::{
        DK_VAT, INVOICE_GATEWAY_CLIENT_ID, INVOICE_GATEWAY_CLIENT_SECRET, OIDC_REUSE_CLIENT_ID,
        OIDC_REUSE_CLIENT_SECRET, PORTAL_OWNER,
    },
    sim::WebServiceConsent,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The test user who pays (the reference's first sandbox user), as the till types the number.
pub const PHONE: &str = "4557373259";

/// A simulator and one merchant's consent on disk, as `mposd consent import` leaves it.
pub struct Merchant {
    pub h: Harness,
    pub consent: Arc<Consent>,
    /// The refresh token the consent holds (never to be seen in a log).
    pub refresh_token: String,
}

impl Merchant {
    /// The owner of `DK12345678` consents to `invoice`.
    pub async fn start() -> Merchant {
        Merchant::with(mposd::sim::SimConfig::default()).await
    }

    /// [`Merchant::start`] on a simulator started with `config`.
    pub async fn with(config: mposd::sim::SimConfig) -> Merchant {
        let h = Harness::with(config).await;
        let (consent, refresh_token) = consent(&h, DK_VAT, PORTAL_OWNER, &["invoice"]).await;
        Merchant {
            h,
            consent,
            refresh_token,
        }
    }

    pub fn client(&self) -> InvoiceClient {
        self.client_with(INVOICE_GATEWAY_CLIENT_SECRET, self.consent.clone())
    }

    /// A client with the gateway secret `secret`, over `consent`.
    pub fn client_with(&self, secret: &str, consent: Arc<Consent>) -> InvoiceClient {
        self.client_at(&self.h.sim.base_url(), secret, consent)
    }

    /// A client of the API at `api`.
    pub fn client_at(&self, api: &str, secret: &str, consent: Arc<Consent>) -> InvoiceClient {
        let mut config = InvoiceConfig::new(api, DK_VAT);
        config.timeouts.read = Duration::from_secs(10);
        config.timeouts.write = Duration::from_secs(10);
        config.retry.base_delay = Duration::from_millis(50);
        config.extra_ca_file = self.h.ca_file.clone();
        let app = GatewayApp {
            client_id: INVOICE_GATEWAY_CLIENT_ID.into(),
            client_secret: Secret::new(secret),
        };
        InvoiceClient::new(config, app, consent).expect("client")
    }

    /// A lane's invoices under the merchant's only enabled issuer.
    pub fn backend(&self) -> InvoiceBackend {
        InvoiceBackend::new(self.client(), None)
    }

    /// The simulator's today (its virtual clock's date in UTC).
    pub async fn today(&self) -> NaiveDate {
        let clock = self.h.control.get("/_sim/clock").await;
        let now = clock["now"].as_str().expect("now");
        chrono::DateTime::parse_from_rfc3339(now)
            .expect("clock")
            .date_naive()
    }

    /// An invoice of `amount` minor units issued today, due in 30 days, with a fresh
    /// reference.
    pub async fn invoice(&self, amount: i64, delivery: InvoiceDelivery) -> NewInvoice {
        let today = self.today().await;
        NewInvoice {
            reference: format!("inv-{}", uuid::Uuid::new_v4().simple()),
            order_id: format!("R-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            amount: Minor(amount),
            currency: Currency::DKK,
            delivery,
            issue_date: today,
            due_date: today + chrono::Days::new(30),
            lines: vec![OrderLine {
                id: "5701234567890".into(),
                name: "Rugbrød".into(),
                quantity: Some(1),
                total: Minor(amount),
                vat_rate: 2500,
            }],
            description: Some("Tak for handlen".into()),
        }
    }

    /// The simulator's invoices and pushes.
    pub async fn truth(&self) -> Value {
        self.h.control.get("/_sim/invoice/invoices").await
    }

    /// The ground truth of the invoice numbered `reference`.
    pub async fn ground(&self, reference: &str) -> Vec<Value> {
        self.truth().await["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .filter(|i| i["invoiceNumber"] == reference)
            .cloned()
            .collect()
    }

    /// How many invoices were pushed to `phone` (`+45…`).
    pub async fn pushes(&self, phone: &str) -> u64 {
        self.truth().await["pushes"][phone].as_u64().unwrap_or(0)
    }

    /// The scripted customer at `phone` does `action` from now on.
    pub async fn customer(&self, phone: &str, action: Value) {
        let mut body = action;
        body["phone"] = json!(phone);
        self.h.control.post("/_sim/invoice/customers", body).await;
    }

    /// How many refreshes the simulator's provider answered for the consent.
    pub async fn refreshes(&self) -> u64 {
        let consents = self.h.control.get("/_sim/oidc/consents").await;
        consents["consents"]
            .as_array()
            .expect("consents")
            .iter()
            .filter(|c| c["clientId"] == OIDC_REUSE_CLIENT_ID && c["merchantVat"] == DK_VAT)
            .map(|c| c["refreshes"].as_u64().unwrap_or(0))
            .sum()
    }
}

/// The consent of `user` for merchant `vat` with the product `scopes`, obtained the way the
/// integrator's web service obtains it (hybrid flow, its own redirect URI), then stored and
/// validated with one refresh as `mposd consent import` does.
pub async fn consent(h: &Harness, vat: &str, user: &str, scopes: &[&str]) -> (Arc<Consent>, String) {
    let base = h.sim.base_url();
    let refresh_token = WebServiceConsent {
        client_id: OIDC_REUSE_CLIENT_ID,
        client_secret: OIDC_REUSE_CLIENT_SECRET,
        vat,
        user,
        scopes,
    }
    .obtain(&base)
    .await
    .expect("the merchant's consent");
    let settings = ClientSettings {
        vat: vat.into(),
        authority: format!("{base}/merchant-authentication-openidconnect"),
        client_id: OIDC_REUSE_CLIENT_ID.into(),
        client_secret: Secret::new(OIDC_REUSE_CLIENT_SECRET),
        rotation: Rotation::Reuse,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    };
    let state = h.dir.path().join(format!("state-{vat}"));
    std::fs::create_dir_all(&state).expect("state dir");
    let consent = Consent::new(settings, ConsentFile::new(&state, vat)).expect("consent");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let scope = format!("openid offline_access {}", scopes.join(" "));
    let granted = scope.split(' ').map(str::to_string).collect();
    consent
        .store(Record::new(RefreshToken::new(&refresh_token), granted, now))
        .await
        .expect("store");
    consent.refresh().await.expect("the consent works");
    (Arc::new(consent), refresh_token)
}

pub fn correlation() -> CorrelationId {
    CorrelationId::new()
}

/// The refusal's reason, or the whole error when it is none.
#[track_caller]
pub fn refusal<T: std::fmt::Debug>(result: Result<T, BackendError>) -> mposd::engine::backend::Refusal {
    match result {
        Err(BackendError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal: {other:?}"),
    }
}

/// A loopback relay in front of the simulator that keeps every byte the client sent, one
/// buffer per connection, so a test can read the requests exactly as they went over the wire.
pub struct Recorder {
    pub url: String,
    sent: Arc<std::sync::Mutex<Vec<Sent>>>,
}

/// What the client sent on one connection.
type Sent = Arc<std::sync::Mutex<Vec<u8>>>;

impl Recorder {
    pub async fn start(target: &str) -> Recorder {
        let target = target.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let sent: Arc<std::sync::Mutex<Vec<Sent>>> = Arc::default();
        let connections = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
                connections.lock().unwrap().push(buffer.clone());
                tokio::spawn(relay(client, server, buffer));
            }
        });
        Recorder { url, sent }
    }

    /// The bodies of the `POST` requests sent so far, in order.
    pub fn posted_bodies(&self) -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        for connection in self.sent.lock().unwrap().iter() {
            let bytes = connection.lock().unwrap().clone();
            let mut rest = &bytes[..];
            while let Some(end) = find(rest, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&rest[..end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                let body = &rest[end + 4..(end + 4 + length).min(rest.len())];
                if head.starts_with("post ") {
                    bodies.push(body.to_vec());
                }
                rest = &rest[(end + 4 + length).min(rest.len())..];
            }
        }
        bodies
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    sent: Arc<std::sync::Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = client_read.read(&mut chunk).await {
            if n == 0 || server_write.write_all(&chunk[..n]).await.is_err() {
                break;
            }
            sent.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
