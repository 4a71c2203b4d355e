//! Shared helpers of the ePayment tests: a simulator with a token for the built-in sales
//! unit, raw requests with the API's headers, and payments driven into a state through the
//! public API and the simulated customer only.

use super::common::{start, Resp, Sim};
use mposd::sim::fixtures::{EP_CLIENT_ID, EP_CLIENT_SECRET, EP_MSN, EP_SUBSCRIPTION_KEY, EP_USERS};
use reqwest::Method;
use serde_json::{json, Value};

pub const PAYMENTS: &str = "/epayment/v1/payments";
/// The first built-in test user.
pub const USER: &str = EP_USERS[0];
pub const OTHER_USER: &str = EP_USERS[1];

/// A simulator plus a token and the headers of one sales unit.
pub struct Ep {
    pub sim: Sim,
    pub token: String,
    pub msn: String,
    pub subscription_key: String,
}

pub async fn start_ep() -> Ep {
    let sim = start().await;
    let token = token_for(&sim, EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY).await;
    Ep {
        sim,
        token,
        msn: EP_MSN.into(),
        subscription_key: EP_SUBSCRIPTION_KEY.into(),
    }
}

pub async fn token_request(sim: &Sim, id: &str, secret: &str, key: &str) -> Resp {
    let headers = [
        ("client_id", id),
        ("client_secret", secret),
        ("Ocp-Apim-Subscription-Key", key),
    ];
    sim.raw(Method::POST, "/accesstoken/get", &headers, None).await
}

pub async fn token_for(sim: &Sim, id: &str, secret: &str, key: &str) -> String {
    let resp = token_request(sim, id, secret, key).await;
    resp.ok()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub fn new_reference() -> String {
    format!("sim-{}", uuid::Uuid::new_v4().simple())
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A push payment of `value` øre to [`USER`], present at the till.
pub fn push_body(reference: &str, value: i64) -> Value {
    json!({
        "amount": {"currency": "DKK", "value": value},
        "paymentMethod": {"type": "WALLET"},
        "reference": reference,
        "userFlow": "PUSH_MESSAGE",
        "customer": {"phoneNumber": USER},
        "customerInteraction": "CUSTOMER_PRESENT",
        "paymentDescription": "Bageriet, till 1"
    })
}

pub fn qr_body(reference: &str, value: i64, format: Option<Value>) -> Value {
    let mut body = json!({
        "amount": {"currency": "DKK", "value": value},
        "paymentMethod": {"type": "WALLET"},
        "reference": reference,
        "userFlow": "QR",
        "customerInteraction": "CUSTOMER_PRESENT"
    });
    if let Some(format) = format {
        body["qrFormat"] = format;
    }
    body
}

impl Ep {
    /// The API's headers, with `extra` appended and the headers named in `without` left out.
    pub fn headers<'a>(
        &'a self,
        key: Option<&'a str>,
        extra: &[(&'a str, &'a str)],
        without: &[&str],
    ) -> Vec<(&'a str, String)> {
        let mut headers = vec![
            ("Authorization", format!("Bearer {}", self.token)),
            ("Ocp-Apim-Subscription-Key", self.subscription_key.clone()),
            ("Merchant-Serial-Number", self.msn.clone()),
            ("Vipps-System-Name", "mposd".to_string()),
            ("Vipps-System-Version", "1.0.0".to_string()),
        ];
        if let Some(key) = key {
            headers.push(("Idempotency-Key", key.to_string()));
        }
        headers.retain(|(name, _)| !without.contains(name));
        headers.extend(extra.iter().map(|(n, v)| (*n, v.to_string())));
        headers
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(&str, String)>,
        body: Option<Value>,
    ) -> Resp {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.sim
            .raw(method, path, &headers, body.map(|b| b.to_string().into_bytes()))
            .await
    }

    pub async fn send(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Resp {
        self.send_with(method, path, self.headers(key, &[], &[]), body)
            .await
    }

    pub async fn create_keyed(&self, key: &str, body: Value) -> Resp {
        self.send(Method::POST, PAYMENTS, Some(key), Some(body)).await
    }

    pub async fn create(&self, body: Value) -> Resp {
        self.create_keyed(&new_key(), body).await
    }

    /// A push payment of `value` to [`USER`]; returns its reference.
    pub async fn push(&self, value: i64) -> String {
        let reference = new_reference();
        let resp = self.create(push_body(&reference, value)).await;
        assert_eq!(resp.status, 201, "create: {}", resp.text);
        reference
    }

    /// A push payment of `value` that [`USER`] approved.
    pub async fn authorized(&self, value: i64) -> String {
        let reference = self.push(value).await;
        self.step(&reference, "approve", None).await.ok();
        reference
    }

    pub async fn get(&self, reference: &str) -> Resp {
        self.send(Method::GET, &format!("{PAYMENTS}/{reference}"), None, None)
            .await
    }

    pub async fn state(&self, reference: &str) -> String {
        self.get(reference).await.ok()["state"]
            .as_str()
            .expect("state")
            .to_string()
    }

    pub async fn events(&self, reference: &str) -> Vec<Value> {
        let resp = self
            .send(Method::GET, &format!("{PAYMENTS}/{reference}/events"), None, None)
            .await;
        resp.ok().as_array().expect("events array").clone()
    }

    pub async fn event_names(&self, reference: &str) -> Vec<String> {
        self.events(reference)
            .await
            .iter()
            .map(|e| e["name"].as_str().expect("name").to_string())
            .collect()
    }

    pub async fn modify_keyed(&self, reference: &str, op: &str, key: &str, body: Value) -> Resp {
        self.send(
            Method::POST,
            &format!("{PAYMENTS}/{reference}/{op}"),
            Some(key),
            Some(body),
        )
        .await
    }

    pub async fn capture(&self, reference: &str, value: i64) -> Resp {
        self.modify_keyed(reference, "capture", &new_key(), amount_body(value))
            .await
    }

    pub async fn refund(&self, reference: &str, value: i64) -> Resp {
        self.modify_keyed(reference, "refund", &new_key(), amount_body(value))
            .await
    }

    pub async fn cancel(&self, reference: &str, body: Value) -> Resp {
        self.modify_keyed(reference, "cancel", &new_key(), body).await
    }

    /// A step of the simulated customer (`open`, `approve`, `abort`).
    pub async fn step(&self, reference: &str, step: &str, phone: Option<&str>) -> Resp {
        let body = phone.map_or_else(|| json!({}), |p| json!({"phoneNumber": p}));
        self.sim
            .post_json(
                &format!("/_sim/epayment/payments/{}/{reference}/{step}", self.msn),
                body,
            )
            .await
    }

    pub async fn ground(&self, reference: &str) -> Value {
        let resp = self.sim.get("/_sim/epayment/payments").await;
        resp.ok()["payments"]
            .as_array()
            .expect("payments")
            .iter()
            .find(|p| p["reference"] == json!(reference))
            .cloned()
            .unwrap_or_else(|| panic!("{reference} not in ground truth"))
    }
}

pub fn amount_body(value: i64) -> Value {
    json!({"modificationAmount": {"currency": "DKK", "value": value}})
}

/// An `application/problem+json` body with `status` and, when given, the domain error code.
#[track_caller]
pub fn problem(resp: &Resp, status: u16, code: Option<&str>) {
    assert_eq!(resp.status, status, "expected {status}: {}", resp.text);
    let body = &resp.json;
    assert_eq!(body["status"], json!(status), "problem status: {}", resp.text);
    assert_eq!(
        body["type"],
        json!(format!("https://httpstatuses.io/{status}")),
        "{}",
        resp.text
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        resp.text
    );
    assert!(
        body["traceId"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        resp.text
    );
    let found = body["extraDetails"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == json!("ErrorCode")))
        .map(|d| d["reason"].clone());
    assert_eq!(found, code.map(|c| json!(c)), "error code: {}", resp.text);
}

/// A 400 schema error naming `field`, without an error code.
#[track_caller]
pub fn field_error(resp: &Resp, field: &str) {
    problem(resp, 400, None);
    let names: Vec<&str> = resp.json["extraDetails"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, [field], "field at fault: {}", resp.text);
}

/// The gateway's own 401 body.
#[track_caller]
pub fn gateway_denied(resp: &Resp) {
    assert_eq!(resp.status, 401, "{}", resp.text);
    assert_eq!(resp.json["statusCode"], json!(401), "{}", resp.text);
    assert!(
        resp.json["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Access denied")),
        "{}",
        resp.text
    );
}
