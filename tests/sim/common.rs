//! Shared helpers: start an in-process simulator with fast settings, fetch tokens, send raw
//! JSON requests over loopback HTTP and drive payments into a given state through the public
//! API and the sandbox user simulation only.

use base64::Engine;
use mposd::sim::fixtures::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_STORE, DK_VAT, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET,
};
use mposd::sim::{Fixtures, Settings, SimConfig, Simulator};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub const VERSION: &str = "1.0.0";
pub const POLL_DELAY_MS: u32 = 20;
pub const REFUND_POLL_DELAY_MS: u32 = 30;
/// Long enough that a refund is observably `Initiated` until the test advances the clock.
pub const REFUND_RESERVE_DELAY: Duration = Duration::from_secs(60);
pub const MINUTE_MS: u64 = 60_000;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Test users of the reference's sandbox table (§16.2).
pub const CREDIT_USER: &str = "+4520031801";
pub const DEBIT_USER: &str = "+4520031802";
pub const RECEIPT_USER: &str = "+4520031803";
pub const LOYALTY_USER: &str = "+4520031804";
pub const PARTIAL_USER: &str = "+4520031805";
pub const FI_CREDIT_USER: &str = "+358200318001";

/// Timers stay at the reference's defaults (they are driven by the virtual clock); only the
/// poll delays are short and tokens live for a year so that multi-day clock jumps do not
/// invalidate them.
pub fn fast_settings() -> Settings {
    Settings {
        token_lifetime: Duration::from_secs(365 * 24 * 3600),
        payment_poll_delay_ms: POLL_DELAY_MS,
        checkin_poll_delay_ms: POLL_DELAY_MS,
        refund_poll_delay_ms: REFUND_POLL_DELAY_MS,
        refund_reserve_delay: REFUND_RESERVE_DELAY,
        ..Settings::default()
    }
}

/// One answer: status and the body both as text and as JSON (`Null` when empty or
/// not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub async fn from(resp: reqwest::Response) -> Resp {
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("read body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, text, json }
    }

    /// `200` (the body is not checked).
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.text
        );
        &self.json
    }

    /// `200` with an empty body (action POSTs and DELETE, reference §4.2).
    #[track_caller]
    pub fn ok_empty(&self) {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.text
        );
        assert!(self.text.trim().is_empty(), "expected no body, got {}", self.text);
    }

    /// An `ErrorResponse` (§4.3): every property a string, `code` numeric, no `origin`.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) {
        self.err_body(status, code);
        assert!(
            self.json.get("origin").is_none(),
            "non-refund errors have no origin: {}",
            self.text
        );
    }

    /// An `ErrorResponseV2` of the refund endpoints: as [`Resp::err`] plus `"origin":"PoS"`.
    #[track_caller]
    pub fn refund_err(&self, status: u16, code: &str) {
        self.err_body(status, code);
        assert_eq!(
            self.json["origin"],
            json!("PoS"),
            "refund error origin: {}",
            self.text
        );
    }

    #[track_caller]
    fn err_body(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.json["code"].as_str()),
            (status, Some(code)),
            "expected {status} with code {code:?}, got {}: {}",
            self.status,
            self.text
        );
        assert!(
            self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error message must be a non-empty string: {}",
            self.text
        );
        assert!(
            self.json["correlationId"].as_str().is_some_and(|c| !c.is_empty()),
            "error correlationId must be a non-empty string: {}",
            self.text
        );
    }

    /// A status with no body (401 and most 404s, reference §4.2 and docs/simulator.md).
    #[track_caller]
    pub fn bare(&self, status: u16) {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        assert!(self.text.trim().is_empty(), "expected no body, got {}", self.text);
    }
}

/// A simulator started in this test's runtime, plus an HTTP client for it.
pub struct Sim {
    pub base: String,
    pub http: reqwest::Client,
    /// Kept so the simulator lives as long as the test.
    _handle: Simulator,
}

pub async fn start() -> Sim {
    start_with(fast_settings()).await
}

pub async fn start_with(settings: Settings) -> Sim {
    start_with_fixtures(settings, Fixtures::default()).await
}

pub async fn start_with_fixtures(settings: Settings, fixtures: Fixtures) -> Sim {
    let handle = mposd::sim::start(SimConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        settings,
        fixtures,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    Sim {
        base: handle.base_url(),
        http: http_client(),
        _handle: handle,
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Any request: `headers` are appended in order (so a name given twice is sent twice).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        for (name, value) in headers {
            let value = reqwest::header::HeaderValue::from_bytes(value.as_bytes()).expect("header value");
            req = req.header(*name, value);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        Resp::from(req.send().await.expect("request reaches the simulator")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.raw(Method::GET, path, &[], None).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Resp {
        self.raw(Method::POST, path, &[], Some(body.to_string().into_bytes()))
            .await
    }

    /// Token endpoint with Basic auth and a form body.
    pub async fn token_request(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Resp {
        let resp = self
            .http
            .post(self.url("/integrator-authentication/connect/token"))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .expect("token request");
        Resp::from(resp).await
    }

    pub async fn token(&self, id: &str, secret: &str, vat: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(vat) = vat {
            form.push(("merchant_vat", vat));
        }
        let resp = self.token_request(id, secret, &form).await;
        resp.ok()["access_token"]
            .as_str()
            .expect("access_token is a string")
            .to_string()
    }

    /// The demo integrator acting for the DK merchant with a VAT header.
    pub async fn api(&self) -> Api {
        self.api_for(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_VAT).await
    }

    /// The second integrator acting for the DK merchant.
    pub async fn other_api(&self) -> Api {
        self.api_for(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, DK_VAT).await
    }

    pub async fn api_for(&self, id: &str, secret: &str, vat: &str) -> Api {
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            token: self.token(id, secret, None).await,
            vat: Some(vat.to_string()),
        }
    }

    // ---- user simulation (§16.2) ----

    pub async fn user(&self, action: &str, body: Value) -> Resp {
        self.raw(
            Method::POST,
            &format!("/pos/app/usersimulation/{action}"),
            &[
                ("x-ibm-client-id", DEMO_CLIENT_ID),
                ("x-ibm-client-secret", DEMO_CLIENT_SECRET),
            ],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn checkin(&self, beacon: &str, phone: &str) -> Resp {
        self.user("checkin", json!({"beaconId": beacon, "phoneNumber": phone}))
            .await
    }

    pub async fn accept(&self, beacon: &str, phone: &str) -> Resp {
        self.user("acceptpayment", json!({"beaconId": beacon, "phoneNumber": phone}))
            .await
    }

    pub async fn user_cancel(&self, beacon: &str) -> Resp {
        self.user("cancelpaymentbyuser", json!({"beaconId": beacon}))
            .await
    }

    // ---- control API ----

    pub async fn advance_ms(&self, ms: u64) -> Value {
        self.post_json("/_sim/clock/advance", json!({ "ms": ms }))
            .await
            .ok()
            .clone()
    }

    pub async fn fault(&self, endpoint: &str, mode: &str, count: u32, extra: Value) {
        let mut body = json!({"endpoint": endpoint, "mode": mode, "count": count});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post_json("/_sim/faults", body).await.ok();
    }

    pub async fn ground_payments(&self) -> Vec<Value> {
        list(self.get("/_sim/payments").await.ok(), "payments")
    }

    pub async fn ground_payment(&self, payment_id: &str) -> Value {
        self.ground_payments()
            .await
            .into_iter()
            .find(|p| p["paymentId"] == json!(payment_id))
            .unwrap_or_else(|| panic!("payment {payment_id} not in ground truth"))
    }

    pub async fn ground_refunds(&self) -> Vec<Value> {
        list(self.get("/_sim/refunds").await.ok(), "refunds")
    }

    pub async fn ground_pos(&self) -> Vec<Value> {
        list(self.get("/_sim/pointofsales").await.ok(), "pointOfSales")
    }

    pub async fn request_count(&self, endpoint: &str) -> u64 {
        let resp = self.get("/_sim/requests").await;
        resp.ok()["counts"][endpoint].as_u64().unwrap_or(0)
    }
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array: {v}"))
        .clone()
}

/// A PoS API caller: token plus the common headers of §4.1.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub vat: Option<String>,
}

impl Api {
    pub fn with_vat(&self, vat: Option<&str>) -> Api {
        Api {
            vat: vat.map(str::to_string),
            ..self.clone()
        }
    }

    fn builder(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}/pos/v10{}", self.base, path))
            .bearer_auth(&self.token)
            .header("x-mobilepay-client-system-version", VERSION);
        if let Some(vat) = &self.vat {
            req = req.header("x-mobilepay-merchant-vat-number", vat);
        }
        req
    }

    pub async fn send(&self, method: Method, path: &str, idem: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.builder(method, path);
        if let Some(key) = idem {
            req = req.header("x-mobilepay-idempotency-key", key);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        Resp::from(req.send().await.expect("request reaches the simulator")).await
    }

    /// As [`Api::send`] but returns the transport error (for fault injection).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        idem: Option<&str>,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self.builder(method, path).timeout(timeout);
        if let Some(key) = idem {
            req = req.header("x-mobilepay-idempotency-key", key);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        Ok(Resp::from(req.send().await?).await)
    }

    /// A request with extra raw headers and a raw body (headers given twice are sent twice).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = self.builder(method, path);
        for (name, value) in headers {
            let value = reqwest::header::HeaderValue::from_bytes(value.as_bytes()).expect("header value");
            req = req.header(*name, value);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        Resp::from(req.send().await.expect("request reaches the simulator")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, None, Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None, None).await
    }

    pub async fn post_idem(&self, path: &str, key: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, None).await
    }

    // ---- points of sale ----

    pub async fn create_pos_with(&self, body: Value) -> Resp {
        self.post_idem("/pointofsales", &new_key(), body).await
    }

    /// A PoS on `store` with a fresh GUID beacon: (posId, beaconId).
    pub async fn create_pos_on(&self, store: &str) -> Pos {
        let beacon = uuid::Uuid::new_v4().to_string();
        let resp = self
            .create_pos_with(pos_body(store, &new_key(), Some(&beacon)))
            .await;
        let pos_id = str_field(resp.ok(), "posId");
        Pos {
            pos_id,
            beacon_id: beacon,
        }
    }

    pub async fn create_pos(&self) -> Pos {
        self.create_pos_on(DK_STORE).await
    }

    pub async fn create_pos_requiring_payment(&self) -> Pos {
        let beacon = uuid::Uuid::new_v4().to_string();
        let mut body = pos_body(DK_STORE, &new_key(), Some(&beacon));
        body["requirePaymentBeforeCheckin"] = json!(true);
        let resp = self.create_pos_with(body).await;
        Pos {
            pos_id: str_field(resp.ok(), "posId"),
            beacon_id: beacon,
        }
    }

    // ---- payments ----

    pub async fn initiate_with(&self, body: Value) -> Resp {
        self.post_idem("/payments", &new_key(), body).await
    }

    pub async fn initiate(&self, pos: &Pos, amount: f64) -> String {
        let resp = self.initiate_with(initiate_body(&pos.pos_id, amount)).await;
        str_field(resp.ok(), "paymentId")
    }

    pub async fn prepare(&self, pos: &Pos) -> String {
        let resp = self
            .post_idem(
                "/payments/prepare",
                &new_key(),
                json!({"posId": pos.pos_id, "orderId": new_order()}),
            )
            .await;
        str_field(resp.ok(), "paymentId")
    }

    pub async fn ready(&self, payment_id: &str, amount: f64) -> Resp {
        self.post(&format!("/payments/{payment_id}/ready"), ready_body(amount))
            .await
    }

    pub async fn payment(&self, payment_id: &str) -> Value {
        self.get(&format!("/payments/{payment_id}")).await.ok().clone()
    }

    pub async fn status(&self, payment_id: &str) -> String {
        str_field(&self.payment(payment_id).await, "status")
    }

    pub async fn capture(&self, payment_id: &str, amount: f64) -> Resp {
        self.post(
            &format!("/payments/{payment_id}/capture"),
            json!({ "amount": amount }),
        )
        .await
    }

    pub async fn cancel(&self, payment_id: &str) -> Resp {
        self.post_empty(&format!("/payments/{payment_id}/cancel")).await
    }

    /// Polls the payment until `status` (for automatic customers), failing after 20 s.
    pub async fn wait_status(&self, payment_id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let p = self.payment(payment_id).await;
            if p["status"] == json!(status) {
                return p;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "payment never reached {status}; last seen {p}"
            );
            let delay = p["pollDelayInMs"].as_u64().unwrap_or(50).max(10);
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }

    // ---- refunds ----

    pub async fn create_refund_with(&self, body: Value) -> Resp {
        self.post_idem("/refunds", &new_key(), body).await
    }

    pub async fn refund(&self, payment_id: &str, amount: f64) -> Resp {
        self.create_refund_with(refund_body(payment_id, amount, "DKK"))
            .await
    }

    pub async fn refund_status(&self, refund_id: &str) -> String {
        let resp = self.get(&format!("/refunds/{refund_id}")).await;
        str_field(resp.ok(), "status")
    }
}

/// A point of sale created by a test.
#[derive(Clone, Debug)]
pub struct Pos {
    pub pos_id: String,
    pub beacon_id: String,
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn new_order() -> String {
    format!("ORDER-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

pub fn pos_body(store: &str, merchant_pos_id: &str, beacon: Option<&str>) -> Value {
    let mut body = json!({
        "merchantPosId": merchant_pos_id,
        "storeId": store,
        "name": "Kasse 1",
        "supportedBeaconTypes": ["QR"],
    });
    if let Some(beacon) = beacon {
        body["beaconId"] = json!(beacon);
    }
    body
}

pub fn initiate_body(pos_id: &str, amount: f64) -> Value {
    json!({
        "posId": pos_id,
        "orderId": new_order(),
        "amount": amount,
        "currencyCode": "DKK",
        "restrictions": null,
        "merchantPaymentLabel": "Label",
        "plannedCaptureDelay": "None",
    })
}

pub fn ready_body(amount: f64) -> Value {
    json!({"amount": amount, "currencyCode": "DKK", "plannedCaptureDelay": "None"})
}

pub fn refund_body(payment_id: &str, amount: f64, currency: &str) -> Value {
    json!({
        "paymentId": payment_id,
        "refundOrderId": new_order(),
        "amount": amount,
        "currencyCode": currency,
    })
}

#[track_caller]
pub fn str_field(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {v}"))
        .to_string()
}

/// Decodes the claims of a JWT (the signature is not checked: clients only read claims).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("JWT payload is base64url");
    serde_json::from_slice(&bytes).expect("JWT payload is JSON")
}

/// A payment driven into `state` on a fresh PoS of `api` (amount 100.00 DKK, credit user
/// unless the state needs another). Verifies the state was reached.
pub struct Correlation {
    pub pos: Pos,
    pub payment_id: String,
}

pub async fn payment_in(sim: &Sim, api: &Api, state: &str) -> Correlation {
    payment_in_as(sim, api, state, CREDIT_USER).await
}

pub async fn payment_in_as(sim: &Sim, api: &Api, state: &str, user: &str) -> Correlation {
    let pos = api.create_pos().await;
    let payment_id = match state {
        "Prepared" => api.prepare(&pos).await,
        "Paired" => {
            let id = api.prepare(&pos).await;
            sim.checkin(&pos.beacon_id, user).await.ok_empty();
            id
        }
        "Initiated" => api.initiate(&pos, 100.0).await,
        "IssuedToUser" => {
            let id = api.initiate(&pos, 100.0).await;
            sim.checkin(&pos.beacon_id, user).await.ok_empty();
            id
        }
        "Reserved" | "Captured" | "ExpiredAndCancelled" => {
            let id = api.initiate(&pos, 100.0).await;
            sim.checkin(&pos.beacon_id, user).await.ok_empty();
            sim.accept(&pos.beacon_id, user).await.ok_empty();
            if state == "Captured" {
                api.capture(&id, 100.0).await.ok_empty();
            }
            if state == "ExpiredAndCancelled" {
                sim.advance_ms(7 * DAY_MS + MINUTE_MS).await;
            }
            id
        }
        "CancelledByClient" => {
            let id = api.initiate(&pos, 100.0).await;
            api.cancel(&id).await.ok_empty();
            id
        }
        "CancelledByUser" => {
            let id = api.initiate(&pos, 100.0).await;
            sim.checkin(&pos.beacon_id, user).await.ok_empty();
            sim.user_cancel(&pos.beacon_id).await.ok_empty();
            id
        }
        "CancelledByMobilePay" => {
            let id = api.initiate(&pos, 100.0).await;
            sim.advance_ms(6 * MINUTE_MS).await;
            id
        }
        other => panic!("no recipe for state {other}"),
    };
    assert_eq!(api.status(&payment_id).await, state, "payment_in({state})");
    Correlation { pos, payment_id }
}

/// A captured 100.00 DKK payment, ready for refunds.
pub async fn captured(sim: &Sim, api: &Api) -> String {
    payment_in(sim, api, "Captured").await.payment_id
}

/// A refund of `amount` driven to `Reserved` by advancing the clock past the reserve delay.
pub async fn reserved_refund(sim: &Sim, api: &Api, payment_id: &str, amount: f64) -> String {
    let refund_id = str_field(api.refund(payment_id, amount).await.ok(), "refundId");
    sim.advance_ms(REFUND_RESERVE_DELAY.as_millis() as u64 + 1_000)
        .await;
    assert_eq!(api.refund_status(&refund_id).await, "Reserved");
    refund_id
}
