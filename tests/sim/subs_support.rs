//! Shared helpers of the Subscriptions tests: a simulator, a merchant token with scope
//! `subscriptions` got through the OIDC provider's hybrid flow (renewed by refresh after the
//! virtual clock moved), calls with the gateway's app pair, valid request bodies, the sandbox's
//! user simulation, and the ground truth under `/_sim/subscriptions/`.

use super::common::{http_client, start, Resp};
use super::inv_support::{consent_tokens, APP};
use super::oidc_support::{oidc_on, Oidc};
use mposd::sim::fixtures::{
    DK_PROVIDER, DK_VAT, OIDC_REUSE_CLIENT_ID, OIDC_REUSE_CLIENT_SECRET, PORTAL_OWNER,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub const API: &str = "/subscriptions/api";
pub const USER_API: &str = "/recurringpayments-restapi/api";
pub const SCOPE: &str = "openid offline_access subscriptions";

pub struct Subs {
    pub oidc: Oidc,
    pub provider: String,
    pub token: String,
    refresh_token: String,
}

pub async fn start_subs() -> Subs {
    let oidc = oidc_on(start().await);
    let tokens = consent_tokens(&oidc, DK_VAT, PORTAL_OWNER, SCOPE).await;
    Subs {
        oidc,
        provider: DK_PROVIDER.to_string(),
        token: tokens["access_token"].as_str().expect("access_token").to_string(),
        refresh_token: tokens["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
    }
}

/// A valid agreement request: 49 DKK a month for `external_id`, a 5-minute timeout.
pub fn agreement_body(external_id: &str) -> Value {
    json!({
        "amount": "49.00",
        "currency": "DKK",
        "country_code": "DK",
        "plan": "Brødklub",
        "description": "Fresh bread every month",
        "frequency": 12,
        "external_id": external_id,
        "expiration_timeout_minutes": 5,
        "links": [
            {"rel": "user-redirect", "href": "https://bageriet.example/signed-up"},
            {"rel": "success-callback", "href": "https://integrator.example/cb/ok"},
            {"rel": "cancel-callback", "href": "https://integrator.example/cb/cancel"}
        ],
    })
}

/// The same with a one-off first payment of 100 DKK.
pub fn with_one_off(external_id: &str) -> Value {
    let mut body = agreement_body(external_id);
    body["one_off_payment"] = json!({"amount": "100.00", "external_id": format!("{external_id}-first"), "description": "First month and card"});
    body
}

/// A created agreement: id, `mobile-pay` href and the one-off's id, if any.
pub struct Created {
    pub id: String,
    pub href: String,
    pub one_off: Option<String>,
}

impl Subs {
    /// `rest` below the test provider, e.g. `/agreements`.
    pub fn path(&self, rest: &str) -> String {
        format!("{API}/providers/{}{rest}", self.provider)
    }

    pub fn agreement_path(&self, id: &str, rest: &str) -> String {
        self.path(&format!("/agreements/{id}{rest}"))
    }

    /// A call with the app pair and this merchant's token, plus `extra` headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let auth = format!("Bearer {}", self.token);
        let mut headers: Vec<(&str, &str)> = APP.to_vec();
        headers.push(("Authorization", &auth));
        headers.extend_from_slice(extra);
        self.oidc
            .sim
            .raw(method, path, &headers, body.map(|b| b.to_string().into_bytes()))
            .await
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn create(&self, body: Value) -> Resp {
        self.call(Method::POST, &self.path("/agreements"), Some(body))
            .await
    }

    #[track_caller]
    pub fn created(resp: &Resp) -> Created {
        assert_eq!(resp.status, 201, "{}", resp.text);
        let links = resp.json["links"].as_array().expect("links");
        assert_eq!(links.len(), 1, "{}", resp.text);
        assert_eq!(links[0]["rel"], json!("mobile-pay"));
        Created {
            id: resp.json["id"].as_str().expect("id").to_string(),
            href: links[0]["href"].as_str().expect("href").to_string(),
            one_off: resp.json["one_off_payment_id"].as_str().map(str::to_string),
        }
    }

    pub async fn agreement(&self, body: Value) -> Created {
        Self::created(&self.create(body).await)
    }

    pub async fn get(&self, id: &str) -> Value {
        self.call(Method::GET, &self.agreement_path(id, ""), None)
            .await
            .ok()
            .clone()
    }

    pub async fn status(&self, id: &str) -> String {
        self.get(id).await["status"].as_str().expect("status").to_string()
    }

    pub async fn cancel(&self, id: &str) -> Resp {
        self.call(Method::DELETE, &self.agreement_path(id, ""), None)
            .await
    }

    pub async fn list(&self, query: &str) -> Resp {
        self.call(Method::GET, &self.path(&format!("/agreements?{query}")), None)
            .await
    }

    pub fn one_off_path(&self, agreement: &str, id: &str, rest: &str) -> String {
        self.agreement_path(agreement, &format!("/oneoffpayments/{id}{rest}"))
    }

    pub async fn one_off(&self, agreement: &str, id: &str) -> Value {
        self.call(Method::GET, &self.one_off_path(agreement, id, ""), None)
            .await
            .ok()
            .clone()
    }

    pub async fn one_off_status(&self, agreement: &str, id: &str) -> String {
        self.one_off(agreement, id).await["status"]
            .as_str()
            .expect("status")
            .to_string()
    }

    /// Asks for a one-off of `amount` on an accepted agreement: its id and `mobile-pay` href.
    pub async fn new_one_off(&self, agreement: &str, body: Value) -> (String, String) {
        let resp = self
            .call(
                Method::POST,
                &self.agreement_path(agreement, "/oneoffpayments"),
                Some(body),
            )
            .await;
        assert_eq!(resp.status, 202, "{}", resp.text);
        (
            resp.json["id"].as_str().expect("id").to_string(),
            resp.json["links"][0]["href"].as_str().expect("href").to_string(),
        )
    }

    pub async fn capture(&self, agreement: &str, id: &str) -> Resp {
        self.call(Method::POST, &self.one_off_path(agreement, id, "/capture"), None)
            .await
    }

    pub fn refunds_path(&self, agreement: &str, payment: &str) -> String {
        self.agreement_path(agreement, &format!("/payments/{payment}/refunds"))
    }

    pub async fn refund(&self, agreement: &str, payment: &str, body: Value) -> Resp {
        self.call(Method::POST, &self.refunds_path(agreement, payment), Some(body))
            .await
    }

    /// The sandbox user simulation as test user `user` (its `authenticateduser` GUID).
    pub async fn user(&self, user: &str, path: &str, body: Value) -> Resp {
        let mut headers: Vec<(&str, &str)> = APP.to_vec();
        headers.push(("authenticateduser", user));
        self.oidc
            .sim
            .raw(
                Method::PATCH,
                &format!("{USER_API}{path}"),
                &headers,
                Some(body.to_string().into_bytes()),
            )
            .await
    }

    /// The user accepts (`"Accepted"`) or rejects a pending agreement.
    pub async fn user_answer(&self, user: &str, id: &str, status: &str) -> Resp {
        self.user(user, &format!("/agreements/v1/{id}"), json!({ "status": status }))
            .await
    }

    /// An agreement accepted by `user`, with its one-off reserved when it has one.
    pub async fn accepted(&self, user: &str, body: Value) -> Created {
        let created = self.agreement(body).await;
        let resp = self.user_answer(user, &created.id, "Accepted").await;
        assert_eq!(resp.status, 204, "{}", resp.text);
        created
    }

    /// Moves the virtual clock, then renews the 300-second access token by refresh.
    pub async fn advance(&mut self, ms: u64) {
        self.oidc.sim.advance_ms(ms).await;
        let answer = self
            .oidc
            .refresh(
                OIDC_REUSE_CLIENT_ID,
                OIDC_REUSE_CLIENT_SECRET,
                &self.refresh_token,
            )
            .await;
        self.token = answer.ok()["access_token"].as_str().expect("token").to_string();
    }

    pub async fn ground(&self) -> Value {
        self.oidc
            .sim
            .get("/_sim/subscriptions/agreements")
            .await
            .ok()
            .clone()
    }

    /// The ground truth of one agreement or one-off (`kind` `agreements` or `oneOffs`).
    pub async fn ground_of(&self, kind: &str, key: &str, id: &str) -> Value {
        self.ground().await[kind]
            .as_array()
            .expect("list")
            .iter()
            .find(|a| a[key] == json!(id))
            .unwrap_or_else(|| panic!("{id} not in ground truth"))
            .clone()
    }

    /// The statuses an agreement went through, in order.
    pub async fn history(&self, id: &str) -> Vec<String> {
        statuses(&self.ground_of("agreements", "agreementId", id).await)
    }

    pub async fn one_off_history(&self, id: &str) -> Vec<String> {
        statuses(&self.ground_of("oneOffs", "paymentId", id).await)
    }

    pub async fn customer(&self, body: Value) {
        self.oidc
            .sim
            .post_json("/_sim/subscriptions/customers", body)
            .await
            .ok();
    }

    /// Opens a link's landing page as a phone's camera would.
    pub async fn open(&self, href: &str) -> (u16, String) {
        let resp = http_client()
            .get(href)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("landing page");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("page"))
    }
}

fn statuses(entry: &Value) -> Vec<String> {
    entry["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["status"].as_str().expect("status").to_string())
        .collect()
}

/// A Subscriptions error body: `error`, and `error_description` with its five properties.
#[track_caller]
pub fn subs_err(resp: &Resp, status: u16, error: &str, message: &str) {
    assert_eq!(
        (resp.status, resp.json["error"].as_str()),
        (status, Some(error)),
        "expected {status} {error}: {}",
        resp.text
    );
    let d = &resp.json["error_description"];
    let error_type = match error {
        "BadRequest" => "InputError",
        "PreconditionFailed" => "PreconditionError",
        _ => "ServerError",
    };
    assert_eq!(d["error_type"], json!(error_type), "{}", resp.text);
    assert!(
        d["message"].as_str().is_some_and(|m| m.contains(message)),
        "expected {message:?} in {}",
        resp.text
    );
    assert!(
        d["correlation_id"].as_str().is_some_and(|c| !c.is_empty()),
        "{}",
        resp.text
    );
    assert!(
        d.get("error_code").is_some() && d.get("localized_message").is_some(),
        "{}",
        resp.text
    );
}

/// The refund endpoints' error body.
#[track_caller]
pub fn refund_err(resp: &Resp, status: u16, code: Option<&str>) {
    assert_eq!(resp.status, status, "{}", resp.text);
    assert!(
        resp.json["errorText"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        resp.text
    );
    let d = &resp.json["errorDetails"];
    assert_eq!(d["errorCode"].as_str(), code, "{}", resp.text);
    assert!(
        d["correlationId"].as_str().is_some_and(|c| !c.is_empty()),
        "{}",
        resp.text
    );
    assert!(
        d["errorType"].as_str().is_some() && d["message"].as_str().is_some(),
        "{}",
        resp.text
    );
}

/// A 404 with an empty body.
#[track_caller]
pub fn not_found(resp: &Resp) {
    assert_eq!((resp.status, resp.text.as_str()), (404, ""), "{}", resp.text);
}
