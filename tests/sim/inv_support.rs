//! Shared helpers of the Invoice tests: a simulator, a merchant token got through the OIDC
//! provider's hybrid flow (renewed by refresh after the virtual clock moved), calls with the
//! gateway's app pair, valid request bodies dated on the simulator's clock, and the ground
//! truth under `/_sim/invoice/`.

use super::common::{http_client, start, Resp, DAY_MS};
use super::oidc_support::{oidc_on, Oidc, Request};
use chrono::{Days, NaiveDate};
use mposd::sim::fixtures::{
    DK_ISSUER, DK_MERCHANT_ID, INVOICE_GATEWAY_CLIENT_ID, INVOICE_GATEWAY_CLIENT_SECRET, INVOICE_USER_PHONE,
    OIDC_LOOPBACK_REDIRECT, OIDC_REUSE_CLIENT_ID, OIDC_REUSE_CLIENT_SECRET, PORTAL_OWNER,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub const API: &str = "/invoice-restapi/api/v1";

pub struct Inv {
    pub oidc: Oidc,
    pub merchant: String,
    pub token: String,
    refresh_token: String,
}

/// The gateway's app pair.
pub const APP: [(&str, &str); 2] = [
    ("x-ibm-client-id", INVOICE_GATEWAY_CLIENT_ID),
    ("x-ibm-client-secret", INVOICE_GATEWAY_CLIENT_SECRET),
];

/// Tokens of the owner's consent for `vat` with `scope`.
pub async fn consent_tokens(oidc: &Oidc, vat: &str, user: &str, scope: &str) -> Value {
    let request = Request::new(OIDC_REUSE_CLIENT_ID)
        .with("merchant_vat", Some(vat))
        .with("scope", Some(scope));
    oidc.login(OIDC_REUSE_CLIENT_ID, user, "approve").await;
    let fields = oidc.authorize(&request).await.fragment(OIDC_LOOPBACK_REDIRECT);
    let code = fields["code"].clone();
    let consented = super::oidc_support::Consented {
        request,
        code,
        id_token: fields["id_token"].clone(),
    };
    oidc.exchange(OIDC_REUSE_CLIENT_ID, OIDC_REUSE_CLIENT_SECRET, &consented)
        .await
        .ok()
        .clone()
}

pub async fn start_inv() -> Inv {
    let oidc = oidc_on(start().await);
    let tokens = consent_tokens(
        &oidc,
        mposd::sim::fixtures::DK_VAT,
        PORTAL_OWNER,
        "openid offline_access invoice",
    )
    .await;
    Inv {
        oidc,
        merchant: DK_MERCHANT_ID.to_string(),
        token: tokens["access_token"].as_str().expect("access_token").to_string(),
        refresh_token: tokens["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
    }
}

impl Inv {
    pub fn path(&self, rest: &str) -> String {
        format!("{API}/merchants/{}{rest}", self.merchant)
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
        self.call(Method::POST, &self.path("/invoices"), Some(body)).await
    }

    pub async fn create_link(&self, body: Value) -> Resp {
        self.call(Method::POST, &self.path("/invoices/link"), Some(body))
            .await
    }

    /// A created InvoiceDirect's id.
    pub async fn direct(&self, body: Value) -> String {
        id_of(&self.create(body).await)
    }

    /// A created InvoiceLink's id and `user-redirect` Href.
    pub async fn link(&self, body: Value) -> (String, String) {
        let resp = self.create_link(body).await;
        let links = resp.ok()["Links"].as_array().expect("Links").clone();
        assert_eq!(links.len(), 1, "{}", resp.text);
        assert_eq!(links[0]["Rel"], json!("user-redirect"));
        (id_of(&resp), links[0]["Href"].as_str().expect("Href").to_string())
    }

    pub async fn status(&self, id: &str) -> String {
        let resp = self
            .call(Method::GET, &self.path(&format!("/invoices/{id}/status")), None)
            .await;
        assert_eq!(resp.ok()["InvoiceId"], json!(id));
        resp.json["Status"].as_str().expect("Status").to_string()
    }

    pub async fn cancel(&self, id: &str) -> Resp {
        self.call(Method::PUT, &self.path(&format!("/invoices/{id}/cancel")), None)
            .await
    }

    /// The simulator's day (virtual clock, UTC).
    pub async fn today(&self) -> NaiveDate {
        let clock = self.oidc.sim.get("/_sim/clock").await;
        let now = clock.ok()["now"].as_str().expect("now");
        chrono::DateTime::parse_from_rfc3339(now)
            .expect("RFC 3339")
            .date_naive()
    }

    pub async fn day(&self, offset: i64) -> String {
        let today = self.today().await;
        let day = if offset >= 0 {
            today.checked_add_days(Days::new(offset as u64))
        } else {
            today.checked_sub_days(Days::new(offset.unsigned_abs()))
        };
        day.expect("date").to_string()
    }

    /// A valid InvoiceDirect for the paying test user, due in a week.
    pub async fn body(&self, number: &str) -> Value {
        json!({
            "InvoiceIssuer": DK_ISSUER,
            "ConsumerAlias": {"Alias": INVOICE_USER_PHONE, "AliasType": "Phone"},
            "ConsumerName": "Test User",
            "TotalAmount": 360,
            "TotalVATAmount": 72,
            "InvoiceNumber": number,
            "DueDate": self.day(7).await,
            "InvoiceArticles": [{"ArticleDescription": "Rye bread", "Quantity": 2, "PricePerUnit": 180}],
        })
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

    /// Moves the clock to the start of the day `days` from today (UTC), plus `extra_ms`.
    pub async fn advance_to_day(&mut self, days: u64, extra_ms: u64) {
        let clock = self.oidc.sim.get("/_sim/clock").await;
        let now =
            chrono::DateTime::parse_from_rfc3339(clock.ok()["now"].as_str().expect("now")).expect("now");
        let into_day = now.timestamp_millis().rem_euclid(DAY_MS as i64) as u64;
        self.advance(days * DAY_MS - into_day + extra_ms).await;
    }

    /// The sandbox user simulation: `action` (`accept` or `reject`) as `user`.
    pub async fn user(&self, user: &str, id: &str, action: &str, body: Option<Value>) -> Resp {
        let mut headers: Vec<(&str, &str)> = APP.to_vec();
        headers.push(("AuthenticatedUser", user));
        self.oidc
            .sim
            .raw(
                Method::PUT,
                &format!("{API}/consumers/me/invoices/{id}/{action}"),
                &headers,
                Some(body.unwrap_or(json!({})).to_string().into_bytes()),
            )
            .await
    }

    pub async fn ground(&self) -> Value {
        self.oidc.sim.get("/_sim/invoice/invoices").await.ok().clone()
    }

    pub async fn ground_invoice(&self, id: &str) -> Value {
        self.ground().await["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .find(|i| i["invoiceId"] == json!(id))
            .unwrap_or_else(|| panic!("invoice {id} not in ground truth"))
            .clone()
    }

    pub async fn pushes(&self, phone: &str) -> u64 {
        self.ground().await["pushes"][phone].as_u64().unwrap_or(0)
    }

    pub async fn customer(&self, body: Value) {
        self.oidc
            .sim
            .post_json("/_sim/invoice/customers", body)
            .await
            .ok();
    }

    /// The statuses an invoice went through, in order.
    pub async fn history(&self, id: &str) -> Vec<String> {
        self.ground_invoice(id).await["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|h| h["status"].as_str().expect("status").to_string())
            .collect()
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

pub fn id_of(resp: &Resp) -> String {
    resp.ok()["InvoiceId"].as_str().expect("InvoiceId").to_string()
}

/// An Invoice error body: snake_case, `error_context` "Invoices", the kind and the code.
#[track_caller]
pub fn inv_err(resp: &Resp, status: u16, kind: &str, code: Option<&str>) {
    assert_eq!(
        (
            resp.status,
            resp.json["error"].as_str(),
            resp.json["error_code"].as_str()
        ),
        (status, Some(kind), code),
        "expected {status} {kind} {code:?}: {}",
        resp.text
    );
    assert_eq!(resp.json["error_context"], json!("Invoices"), "{}", resp.text);
    assert!(
        resp.json["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{}",
        resp.text
    );
    assert!(resp.json["error_description"].as_str().is_some(), "{}", resp.text);
}
