//! Points of sale (reference §9, §10.3): create, read, find, delete, check-in polling.

use crate::common::*;
use mposd::sim::fixtures::{DK_STORE, FI_STORE, FI_VAT};
use serde_json::{json, Value};

fn pos_ids(v: &Value) -> Vec<Value> {
    v["posIds"]
        .as_array()
        .unwrap_or_else(|| panic!("posIds array in {v}"))
        .clone()
}

#[tokio::test]
async fn create_then_read_returns_every_field() {
    let sim = start().await;
    let api = sim.api().await;
    let body = json!({
        "merchantPosId": "My-Pos-1",
        "storeId": DK_STORE,
        "name": "Cafeteria register #2",
        "beaconId": "123456789012345",
        "callbackAlias": "Example Alias",
        "supportedBeaconTypes": ["QR", "Bluetooth"],
        "requirePaymentBeforeCheckin": false,
    });
    let resp = api.create_pos_with(body).await;
    let created = resp.ok();
    assert_eq!(created.as_object().map(|o| o.len()), Some(1), "{created}");
    let pos_id = str_field(created, "posId");
    assert!(uuid::Uuid::parse_str(&pos_id).is_ok());

    let read = api.get(&format!("/pointofsales/{pos_id}")).await;
    let pos = read.ok();
    assert_eq!(pos["posId"], json!(pos_id));
    assert_eq!(pos["merchantPosId"], json!("My-Pos-1"));
    assert_eq!(pos["storeId"], json!(DK_STORE));
    assert_eq!(pos["name"], json!("Cafeteria register #2"));
    assert_eq!(pos["beaconId"], json!("123456789012345"));
    assert_eq!(pos["callbackAlias"], json!("Example Alias"));
    assert_eq!(pos["supportedBeaconTypes"], json!(["QR", "Bluetooth"]));
    assert_eq!(pos["requirePaymentBeforeCheckin"], json!(false));
}

#[tokio::test]
async fn omitted_beacon_gets_a_generated_guid_and_defaults() {
    let sim = start().await;
    let api = sim.api().await;
    let resp = api
        .create_pos_with(json!({
            "merchantPosId": "generated",
            "storeId": DK_STORE,
            "name": "Kasse",
            "supportedBeaconTypes": ["QR"],
        }))
        .await;
    let pos_id = str_field(resp.ok(), "posId");
    let read = api.get(&format!("/pointofsales/{pos_id}")).await;
    let pos = read.ok();
    let beacon = str_field(pos, "beaconId");
    assert!(uuid::Uuid::parse_str(&beacon).is_ok(), "{beacon}");
    assert_eq!(pos["requirePaymentBeforeCheckin"], json!(false));
    assert!(pos.get("callbackAlias").is_none_or(Value::is_null), "{pos}");
}

#[tokio::test]
async fn find_by_merchant_pos_id_beacon_and_store() {
    let sim = start().await;
    let api = sim.api().await;
    let a = api.create_pos().await;
    let b = api.create_pos().await;
    let read = api.get(&format!("/pointofsales/{}", a.pos_id)).await;
    let merchant_pos_id = str_field(read.ok(), "merchantPosId");

    let by_mpid = api
        .get(&format!("/pointofsales?merchantPosId={merchant_pos_id}"))
        .await;
    assert_eq!(pos_ids(by_mpid.ok()), vec![json!(a.pos_id)]);
    let by_beacon = api.get(&format!("/pointofsales?beaconId={}", b.beacon_id)).await;
    assert_eq!(pos_ids(by_beacon.ok()), vec![json!(b.pos_id)]);
    let by_store = api.get(&format!("/pointofsales?storeId={DK_STORE}")).await;
    let ids = pos_ids(by_store.ok());
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&json!(a.pos_id)) && ids.contains(&json!(b.pos_id)));
    let and = api
        .get(&format!(
            "/pointofsales?storeId={DK_STORE}&beaconId={}",
            a.beacon_id
        ))
        .await;
    assert_eq!(pos_ids(and.ok()), vec![json!(a.pos_id)]);
    let none = api.get("/pointofsales?merchantPosId=nobody").await;
    assert_eq!(pos_ids(none.ok()), Vec::<Value>::new());
    api.get("/pointofsales").await.err(400, "1121");
}

#[tokio::test]
async fn merchant_pos_id_and_beacon_must_be_unique() {
    let sim = start().await;
    let api = sim.api().await;
    let beacon = new_key();
    api.create_pos_with(pos_body(DK_STORE, "till-1", Some(&beacon)))
        .await
        .ok();
    api.create_pos_with(pos_body(DK_STORE, "till-1", None))
        .await
        .err(409, "1200");
    api.create_pos_with(pos_body(DK_STORE, "till-2", Some(&beacon)))
        .await
        .err(409, "1202");
    // Beacon ids are unique across all merchants.
    api.with_vat(Some(FI_VAT))
        .create_pos_with(pos_body(FI_STORE, "till-fi", Some(&beacon)))
        .await
        .err(409, "1202");
    // merchantPosId is unique per merchant only.
    api.with_vat(Some(FI_VAT))
        .create_pos_with(pos_body(FI_STORE, "till-1", None))
        .await
        .ok();
}

#[tokio::test]
async fn field_validation_codes() {
    let sim = start().await;
    let api = sim.api().await;
    let base = pos_body(DK_STORE, "valid", None);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("merchantPosId", json!("x".repeat(37)), "1111"),
        ("merchantPosId", json!("tab\there"), "1111"),
        ("merchantPosId", json!(""), "1111"),
        ("name", json!("n".repeat(37)), "1112"),
        ("name", json!("Kasse 😀"), "1112"),
        ("beaconId", json!("12345"), "1100"),
        ("beaconId", json!("1234567890123456"), "1100"),
        ("beaconId", json!("not-a-guid-not-a-guid-not-a-guid-xx"), "1100"),
        ("callbackAlias", json!("c".repeat(37)), "1116"),
        ("supportedBeaconTypes", json!(["QR", "Infrared"]), "1099"),
        ("storeId", json!("not-a-guid"), "1099"),
    ];
    for (field, value, code) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let resp = api.create_pos_with(body).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (400, Some(code)),
            "{field} = {value}: {}",
            resp.text
        );
        resp.err(400, code);
    }
    // Names may use the whole valid character set.
    let mut nordic = base.clone();
    nordic["name"] = json!("Kø & Å-kasse #2 (æøå)");
    api.create_pos_with(nordic).await.ok();
    assert_eq!(sim.ground_pos().await.len(), 1);
}

#[tokio::test]
async fn unknown_store_is_1002() {
    let sim = start().await;
    let api = sim.api().await;
    api.create_pos_with(pos_body(&new_key(), "x", None))
        .await
        .err(409, "1002");
}

#[tokio::test]
async fn delete_frees_ids_and_hides_the_pos() {
    let sim = start().await;
    let api = sim.api().await;
    let beacon = new_key();
    let resp = api
        .create_pos_with(pos_body(DK_STORE, "till-9", Some(&beacon)))
        .await;
    let pos_id = str_field(resp.ok(), "posId");
    api.delete(&format!("/pointofsales/{pos_id}")).await.ok_empty();
    api.get(&format!("/pointofsales/{pos_id}")).await.bare(404);
    api.delete(&format!("/pointofsales/{pos_id}")).await.bare(404);
    let found = api.get("/pointofsales?merchantPosId=till-9").await;
    assert_eq!(pos_ids(found.ok()), Vec::<Value>::new());
    // Both ids are free again for delete-and-recreate.
    let again = api
        .create_pos_with(pos_body(DK_STORE, "till-9", Some(&beacon)))
        .await;
    assert_ne!(str_field(again.ok(), "posId"), pos_id);
    // No payment can start on the deleted PoS.
    api.initiate_with(initiate_body(&pos_id, 10.0))
        .await
        .err(409, "1000");
}

#[tokio::test]
async fn delete_cancels_the_active_payment_but_reserved_stays_capturable() {
    let sim = start().await;
    let api = sim.api().await;
    let reserved = payment_in(&sim, &api, "Reserved").await;
    let active = api.initiate(&reserved.pos, 20.0).await;
    api.delete(&format!("/pointofsales/{}", reserved.pos.pos_id))
        .await
        .ok_empty();
    assert_eq!(api.status(&active).await, "CancelledByMobilePay");
    assert_eq!(api.status(&reserved.payment_id).await, "Reserved");
    api.capture(&reserved.payment_id, 100.0).await.ok_empty();
    assert_eq!(api.status(&reserved.payment_id).await, "Captured");
}

#[tokio::test]
async fn checkin_poll_reports_the_checked_in_user() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let path = format!("/pointofsales/{}/checkin", pos.pos_id);
    let before = api.get(&path).await;
    let before = before.ok();
    assert_eq!(before["isUserCheckedIn"], json!(false));
    assert_eq!(before["pollDelayInMs"], json!(POLL_DELAY_MS));

    sim.checkin(&pos.beacon_id, LOYALTY_USER).await.ok_empty();
    let first = api.get(&path).await.ok().clone();
    assert_eq!(first["isUserCheckedIn"], json!(true));
    assert_eq!(first["pollDelayInMs"], json!(POLL_DELAY_MS));
    // Once looked up, the loyalty user's data is there.
    let later = api.get(&path).await.ok().clone();
    assert_eq!(later["isUserCheckedIn"], json!(true));
    let loyalty = later["loyaltyIds"].as_array().expect("loyaltyIds after lookup");
    assert_eq!(loyalty.len(), 1, "{later}");
    assert_eq!(later["customerToken"].as_str().map(str::len), Some(40), "{later}");

    api.get(&format!("/pointofsales/{}/checkin", new_key()))
        .await
        .bare(404);
}

#[tokio::test]
async fn require_payment_before_checkin_refuses_early_checkin() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos_requiring_payment().await;
    let refused = sim.checkin(&pos.beacon_id, CREDIT_USER).await;
    refused.err(409, "1099");
    let path = format!("/pointofsales/{}/checkin", pos.pos_id);
    assert_eq!(api.get(&path).await.ok()["isUserCheckedIn"], json!(false));
    let payment = api.initiate(&pos, 10.0).await;
    assert_eq!(api.status(&payment).await, "Initiated");
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    assert_eq!(api.status(&payment).await, "IssuedToUser");
}

#[tokio::test]
async fn a_newer_checkin_replaces_the_older_one() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.checkin(&pos.beacon_id, DEBIT_USER).await.ok_empty();
    let payment = api.initiate(&pos, 10.0).await;
    assert_eq!(api.status(&payment).await, "IssuedToUser");
    sim.accept(&pos.beacon_id, CREDIT_USER).await.err(409, "1099");
    sim.accept(&pos.beacon_id, DEBIT_USER).await.ok_empty();
    assert_eq!(api.status(&payment).await, "Reserved");
    assert_eq!(sim.ground_payment(&payment).await["user"], json!(DEBIT_USER));
}

#[tokio::test]
async fn checkin_is_used_up_when_its_payment_is_reserved() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    let path = format!("/pointofsales/{}/checkin", flow.pos.pos_id);
    assert_eq!(api.get(&path).await.ok()["isUserCheckedIn"], json!(false));
    let next = api.initiate(&flow.pos, 10.0).await;
    assert_eq!(api.status(&next).await, "Initiated");
}

#[tokio::test]
async fn checkin_is_used_up_when_its_payment_ends() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "CancelledByUser").await;
    let path = format!("/pointofsales/{}/checkin", flow.pos.pos_id);
    assert_eq!(api.get(&path).await.ok()["isUserCheckedIn"], json!(false));
    let next = api.initiate(&flow.pos, 10.0).await;
    assert_eq!(api.status(&next).await, "Initiated");
}
