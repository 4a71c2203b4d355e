//! Required headers and their codes (reference §4.1, §14.1), merchant-locked tokens versus the
//! VAT header, and the validation order of docs/simulator.md.

use crate::common::*;
use mposd::sim::fixtures::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_STORE, DK_VAT, FI_VAT};
use reqwest::Method;
use serde_json::json;

const VAT: &str = "x-mobilepay-merchant-vat-number";
const VERSION_H: &str = "x-mobilepay-client-system-version";
const IDEM: &str = "x-mobilepay-idempotency-key";

/// A request carrying only a bearer token and exactly the given headers.
async fn bare_call(sim: &Sim, token: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let auth = format!("Bearer {token}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    sim.raw(Method::GET, path, &all, None).await
}

#[tokio::test]
async fn missing_vat_header_without_locked_token_is_1151() {
    let sim = start().await;
    let api = sim.api().await;
    bare_call(&sim, &api.token, "/pos/v10/stores", &[(VERSION_H, VERSION)])
        .await
        .err(400, "1151");
}

#[tokio::test]
async fn duplicated_vat_header_is_1155() {
    let sim = start().await;
    let api = sim.api().await;
    bare_call(
        &sim,
        &api.token,
        "/pos/v10/stores",
        &[(VERSION_H, VERSION), (VAT, DK_VAT), (VAT, DK_VAT)],
    )
    .await
    .err(400, "1155");
}

#[tokio::test]
async fn invalid_vat_header_is_1159() {
    let sim = start().await;
    let api = sim.api().await;
    for vat in ["DK-12345678", "DK1234567", "SE12345678", "dk12345678"] {
        bare_call(
            &sim,
            &api.token,
            "/pos/v10/stores",
            &[(VERSION_H, VERSION), (VAT, vat)],
        )
        .await
        .err(400, "1159");
    }
}

#[tokio::test]
async fn missing_client_version_is_1153() {
    let sim = start().await;
    let api = sim.api().await;
    bare_call(&sim, &api.token, "/pos/v10/stores", &[(VAT, DK_VAT)])
        .await
        .err(400, "1153");
}

#[tokio::test]
async fn duplicated_client_version_is_1157() {
    let sim = start().await;
    let api = sim.api().await;
    bare_call(
        &sim,
        &api.token,
        "/pos/v10/stores",
        &[(VAT, DK_VAT), (VERSION_H, "1.0.0"), (VERSION_H, "1.0.0")],
    )
    .await
    .err(400, "1157");
}

#[tokio::test]
async fn invalid_client_version_is_1161() {
    let sim = start().await;
    let api = sim.api().await;
    for version in ["2.1", "a.b.c", "1.0.0.0", "1..0", "v1.0.0"] {
        bare_call(
            &sim,
            &api.token,
            "/pos/v10/stores",
            &[(VAT, DK_VAT), (VERSION_H, version)],
        )
        .await
        .err(400, "1161");
    }
}

#[tokio::test]
async fn header_names_are_case_insensitive() {
    let sim = start().await;
    let api = sim.api().await;
    let resp = bare_call(
        &sim,
        &api.token,
        "/pos/v10/stores",
        &[
            ("X-MobilePay-Client-System-Version", VERSION),
            ("X-MobilePay-Merchant-VAT-Number", DK_VAT),
        ],
    )
    .await;
    resp.ok();
}

#[tokio::test]
async fn merchant_locked_token_needs_no_vat_header_and_refuses_another() {
    let sim = start().await;
    let locked = Api {
        token: sim.token(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Some(DK_VAT)).await,
        ..sim.api().await
    };
    let no_header = locked.with_vat(None).get("/stores").await;
    assert!(
        no_header.ok()["storeIds"]
            .as_array()
            .is_some_and(|ids| ids.contains(&json!(DK_STORE))),
        "{}",
        no_header.text
    );
    locked.with_vat(Some(DK_VAT)).get("/stores").await.ok();
    locked
        .with_vat(Some(FI_VAT))
        .get("/stores")
        .await
        .err(400, "1159");
}

#[tokio::test]
async fn idempotency_key_header_codes_on_every_creating_post() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let pos2 = api.create_pos().await;
    let payment_for_refund = captured(&sim, &api).await;
    let too_long = "k".repeat(37);
    let creating: Vec<(&str, serde_json::Value)> = vec![
        ("/pointofsales", pos_body(DK_STORE, &new_key(), None)),
        ("/payments", initiate_body(&pos.pos_id, 10.0)),
        (
            "/payments/prepare",
            json!({"posId": pos2.pos_id, "orderId": new_order()}),
        ),
        ("/refunds", refund_body(&payment_for_refund, 1.0, "DKK")),
    ];
    for (path, body) in creating {
        let bytes = body.to_string().into_bytes();
        let is_refund = path == "/refunds";
        let check = |resp: Resp, code: &str| {
            if is_refund {
                resp.refund_err(400, code)
            } else {
                resp.err(400, code)
            }
        };
        check(
            api.send_raw(Method::POST, path, &[], Some(bytes.clone())).await,
            "1164",
        );
        check(
            api.send_raw(
                Method::POST,
                path,
                &[(IDEM, &new_key()), (IDEM, &new_key())],
                Some(bytes.clone()),
            )
            .await,
            "1163",
        );
        for bad in [too_long.as_str(), "", "key\twith-tab", "key-€"] {
            check(
                api.send_raw(Method::POST, path, &[(IDEM, bad)], Some(bytes.clone()))
                    .await,
                "1162",
            );
        }
        // 36 valid characters of any kind are a valid key.
        let longest = "k".repeat(36);
        let resp = api
            .send_raw(Method::POST, path, &[(IDEM, &longest)], Some(bytes))
            .await;
        assert_eq!(resp.status, 200, "{path}: {}", resp.text);
    }
    // Nothing was created by the refused calls: one PoS from the loop + three from the setup,
    // one payment each from initiate, prepare and the setup, one refund.
    assert_eq!(sim.ground_pos().await.len(), 4);
    assert_eq!(sim.ground_payments().await.len(), 3);
    assert_eq!(sim.ground_refunds().await.len(), 1);
}

#[tokio::test]
async fn validation_order_token_version_vat_key_body() {
    let sim = start().await;
    let api = sim.api().await;
    // No token and nothing else: 401 before any header check.
    sim.raw(Method::POST, "/pos/v10/payments", &[], Some(b"{".to_vec()))
        .await
        .bare(401);
    // Version before VAT.
    bare_call(&sim, &api.token, "/pos/v10/stores", &[(VAT, "bad")])
        .await
        .err(400, "1153");
    // VAT before idempotency key.
    let auth = format!("Bearer {}", api.token);
    sim.raw(
        Method::POST,
        "/pos/v10/payments",
        &[("authorization", &auth), (VERSION_H, VERSION), (VAT, "bad")],
        Some(b"{}".to_vec()),
    )
    .await
    .err(400, "1159");
    // Idempotency key before the body.
    api.send_raw(Method::POST, "/payments", &[], Some(b"{not json".to_vec()))
        .await
        .err(400, "1164");
    // Body before existence: a malformed body on an unknown PoS is 1099, not 1000.
    api.send_raw(
        Method::POST,
        "/payments",
        &[(IDEM, &new_key())],
        Some(b"{not json".to_vec()),
    )
    .await
    .err(400, "1099");
}

#[tokio::test]
async fn error_bodies_use_camel_case_correlation_id() {
    let sim = start().await;
    let api = sim.api().await;
    let resp = api.with_vat(None).get("/stores").await;
    resp.err(400, "1151");
    let keys: Vec<&String> = resp
        .json
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert!(
        keys.iter()
            .all(|k| ["code", "message", "correlationId"].contains(&k.as_str())),
        "only code, message, correlationId: {keys:?}"
    );
}

#[tokio::test]
async fn x_ibm_client_id_on_pos_calls_is_accepted() {
    let sim = start().await;
    let api = sim.api().await;
    api.send_raw(
        Method::GET,
        "/stores",
        &[("x-ibm-client-id", DEMO_CLIENT_ID)],
        None,
    )
    .await
    .ok();
    api.send_raw(Method::GET, "/stores", &[("CorrelationId", &new_key())], None)
        .await
        .ok();
}

/// The legacy `x-mobilepay-client-system-name` header: ignored when absent (no `1152`),
/// validated when present (reference §4.1).
#[tokio::test]
async fn legacy_client_system_name_is_validated_when_present() {
    let sim = start().await;
    let api = sim.api().await;
    const NAME: &str = "x-mobilepay-client-system-name";
    api.get("/stores").await.ok();
    api.send_raw(Method::GET, "/stores", &[(NAME, "Kasse-system")], None)
        .await
        .ok();
    api.send_raw(
        Method::GET,
        "/stores",
        &[(NAME, "Kasse-system"), (NAME, "Kasse-system")],
        None,
    )
    .await
    .err(400, "1156");
    let too_long = "n".repeat(37);
    api.send_raw(Method::GET, "/stores", &[(NAME, &too_long)], None)
        .await
        .err(400, "1160");
}
