//! ePayment: the access token and the headers every call needs.

use super::common::start;
use super::ep_support::*;
use mposd::sim::fixtures::{
    EP_CLIENT_ID, EP_CLIENT_SECRET, EP_OTHER_CLIENT_ID, EP_OTHER_CLIENT_SECRET, EP_OTHER_MSN,
    EP_OTHER_SUBSCRIPTION_KEY, EP_SUBSCRIPTION_KEY,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn access_token_takes_keys_in_headers_and_writes_numbers_as_strings() {
    let sim = start().await;
    let resp = token_request(&sim, EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY).await;
    let body = resp.ok();
    assert_eq!(body["token_type"], json!("Bearer"));
    for field in ["expires_in", "ext_expires_in", "expires_on", "not_before"] {
        let text = body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is a string: {body}"));
        text.parse::<i64>()
            .unwrap_or_else(|_| panic!("{field} holds a number: {body}"));
    }
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let not_before: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    let expires_in: i64 = body["expires_in"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_on - not_before, expires_in);
    assert!(body["access_token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
}

#[tokio::test]
async fn access_token_refuses_wrong_or_mismatched_keys() {
    let sim = start().await;
    let wrong_secret = token_request(&sim, EP_CLIENT_ID, "nope", EP_SUBSCRIPTION_KEY).await;
    problem(&wrong_secret, 401, None);
    let other_units_key =
        token_request(&sim, EP_CLIENT_ID, EP_CLIENT_SECRET, EP_OTHER_SUBSCRIPTION_KEY).await;
    problem(&other_units_key, 401, None);
    let no_key = sim
        .raw(
            Method::POST,
            "/accesstoken/get",
            &[("client_id", EP_CLIENT_ID), ("client_secret", EP_CLIENT_SECRET)],
            None,
        )
        .await;
    gateway_denied(&no_key);
}

#[tokio::test]
async fn calls_need_a_token_and_subscription_key_of_the_same_sales_unit() {
    let ep = start_ep().await;
    let reference = ep.push(100).await;
    let path = format!("{PAYMENTS}/{reference}");
    let get = |headers| ep.send_with(Method::GET, &path, headers, None);

    gateway_denied(&get(ep.headers(None, &[], &["Authorization"])).await);
    gateway_denied(&get(ep.headers(None, &[], &["Ocp-Apim-Subscription-Key"])).await);
    let no_bearer = ep.headers(None, &[("Authorization", ep.token.as_str())], &["Authorization"]);
    gateway_denied(&get(no_bearer).await);
    let foreign_key = ep.headers(
        None,
        &[("Ocp-Apim-Subscription-Key", EP_OTHER_SUBSCRIPTION_KEY)],
        &["Ocp-Apim-Subscription-Key"],
    );
    gateway_denied(&get(foreign_key).await);

    // A PoS V10 token is no ePayment token.
    let v10 = ep
        .sim
        .token(
            mposd::sim::fixtures::DEMO_CLIENT_ID,
            mposd::sim::fixtures::DEMO_CLIENT_SECRET,
            None,
        )
        .await;
    let bearer = format!("Bearer {v10}");
    gateway_denied(&get(ep.headers(None, &[("Authorization", bearer.as_str())], &["Authorization"])).await);

    get(ep.headers(None, &[], &[])).await.ok();
}

#[tokio::test]
async fn merchant_serial_number_must_be_given_valid_and_the_keys_own() {
    let ep = start_ep().await;
    let reference = ep.push(100).await;
    let path = format!("{PAYMENTS}/{reference}");
    let get = |headers| ep.send_with(Method::GET, &path, headers, None);

    field_error(
        &get(ep.headers(None, &[], &["Merchant-Serial-Number"])).await,
        "Merchant-Serial-Number",
    );
    let malformed = ep.headers(
        None,
        &[("Merchant-Serial-Number", "12ab")],
        &["Merchant-Serial-Number"],
    );
    field_error(&get(malformed).await, "Merchant-Serial-Number");
    let others = ep.headers(
        None,
        &[("Merchant-Serial-Number", EP_OTHER_MSN)],
        &["Merchant-Serial-Number"],
    );
    problem(&get(others).await, 403, None);

    // The other sales unit with its own keys does not see this unit's payment.
    let token = token_for(
        &ep.sim,
        EP_OTHER_CLIENT_ID,
        EP_OTHER_CLIENT_SECRET,
        EP_OTHER_SUBSCRIPTION_KEY,
    )
    .await;
    let bearer = format!("Bearer {token}");
    let as_other = ep.headers(
        None,
        &[
            ("Authorization", bearer.as_str()),
            ("Ocp-Apim-Subscription-Key", EP_OTHER_SUBSCRIPTION_KEY),
            ("Merchant-Serial-Number", EP_OTHER_MSN),
        ],
        &[
            "Authorization",
            "Ocp-Apim-Subscription-Key",
            "Merchant-Serial-Number",
        ],
    );
    problem(&get(as_other).await, 404, Some("5090"));
}

#[tokio::test]
async fn idempotency_key_and_system_headers_are_checked() {
    let ep = start_ep().await;
    let body = push_body(&new_reference(), 100);
    let no_key = ep.send(Method::POST, PAYMENTS, None, Some(body.clone())).await;
    field_error(&no_key, "Idempotency-Key");
    let long_key = "k".repeat(51);
    let too_long = ep.create_keyed(&long_key, body.clone()).await;
    field_error(&too_long, "Idempotency-Key");
    let name = "n".repeat(31);
    let headers = ep.headers(
        Some("key-1"),
        &[("Vipps-System-Name", name.as_str())],
        &["Vipps-System-Name"],
    );
    let long_name = ep
        .send_with(Method::POST, PAYMENTS, headers, Some(body.clone()))
        .await;
    field_error(&long_name, "Vipps-System-Name");
    let max_key = "k".repeat(50);
    assert_eq!(ep.create_keyed(&max_key, body).await.status, 201);
}

#[tokio::test]
async fn the_request_log_shows_the_headers_sent_and_only_the_names_of_secret_ones() {
    let ep = start_ep().await;
    let reference = ep.push(100).await;
    // The system headers are recommended, not required: a call without them is answered.
    let bare = ep.headers(None, &[], &["Vipps-System-Name", "Vipps-System-Version"]);
    let path = format!("{PAYMENTS}/{reference}");
    ep.send_with(Method::GET, &path, bare, None).await.ok();
    ep.get(&reference).await.ok();

    let response = ep.sim.get("/_sim/requests").await;
    let requests = response.ok();
    let reads: Vec<_> = requests["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["endpoint"] == "epGetPayment")
        .cloned()
        .collect();
    assert_eq!(reads.len(), 2, "{requests}");
    let secret = json!(["Authorization", "Ocp-Apim-Subscription-Key"]);
    assert_eq!(reads[0]["headers"], json!({ "Merchant-Serial-Number": ep.msn }));
    assert_eq!(reads[0]["secretHeaders"], secret);
    assert_eq!(
        reads[1]["headers"],
        json!({
            "Merchant-Serial-Number": ep.msn,
            "Vipps-System-Name": "mposd",
            "Vipps-System-Version": "1.0.0",
        })
    );
    assert_eq!(reads[1]["secretHeaders"], secret);
    let token = requests["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == "epAccessToken")
        .cloned()
        .expect("the token call is logged");
    assert_eq!(
        token["secretHeaders"],
        json!(["Ocp-Apim-Subscription-Key", "client_id", "client_secret"])
    );
    let text = requests.to_string();
    for secret in [
        ep.token.as_str(),
        EP_SUBSCRIPTION_KEY,
        EP_CLIENT_ID,
        EP_CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "{secret} in the request log");
    }
}
