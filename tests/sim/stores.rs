//! Stores (reference §8): list, filters and their codes, detailed list, one store.

use crate::common::*;
use mposd::sim::fixtures::{DK_STORE, DK_STORE_INACTIVE, DK_STORE_PAID_OUT, FI_STORE, FI_VAT};
use serde_json::{json, Value};

const STORE_FIELDS: [&str; 8] = [
    "storeName",
    "storeId",
    "storeStreet",
    "storeZipCode",
    "storeCity",
    "brandName",
    "merchantBrandId",
    "merchantLocationId",
];

fn ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["storeIds"]
        .as_array()
        .unwrap_or_else(|| panic!("storeIds array in {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn list_without_filter_gives_every_store_of_the_merchant() {
    let sim = start().await;
    let api = sim.api().await;
    let mut expected = vec![
        DK_STORE.to_string(),
        DK_STORE_INACTIVE.to_string(),
        DK_STORE_PAID_OUT.to_string(),
    ];
    expected.sort();
    assert_eq!(ids(api.get("/stores").await.ok()), expected);
    let fi = api.with_vat(Some(FI_VAT)).get("/stores").await;
    assert_eq!(ids(fi.ok()), vec![FI_STORE.to_string()]);
}

#[tokio::test]
async fn brand_and_location_select_one_store() {
    let sim = start().await;
    let api = sim.api().await;
    let one = api
        .get("/stores?merchantBrandId=POSDK12345&merchantLocationId=00002")
        .await;
    assert_eq!(ids(one.ok()), vec![DK_STORE_INACTIVE.to_string()]);
    let none = api
        .get("/stores?merchantBrandId=POSDK12345&merchantLocationId=09999")
        .await;
    assert_eq!(ids(none.ok()), Vec::<String>::new());
}

#[tokio::test]
async fn filter_codes_1119_1120_1122() {
    let sim = start().await;
    let api = sim.api().await;
    api.get("/stores?merchantBrandId=POSDK12345")
        .await
        .err(400, "1122");
    api.get("/stores?merchantLocationId=00001").await.err(400, "1122");
    api.get("/stores?merchantBrandId=XX&merchantLocationId=00001")
        .await
        .err(400, "1119");
    api.get("/stores?merchantBrandId=POSDK12345&merchantLocationId=1")
        .await
        .err(400, "1120");
    api.get("/stores/detailed?merchantBrandId=POSDK12345")
        .await
        .err(400, "1122");
}

#[tokio::test]
async fn one_store_has_exactly_the_store_response_fields() {
    let sim = start().await;
    let api = sim.api().await;
    let resp = api.get(&format!("/stores/{DK_STORE}")).await;
    let store = resp.ok();
    for field in STORE_FIELDS {
        assert!(store[field].is_string(), "{field} is a string in {store}");
    }
    assert_eq!(store["storeId"], json!(DK_STORE));
    assert_eq!(store["merchantBrandId"], json!("POSDK12345"));
    assert_eq!(store["merchantLocationId"], json!("00001"));
    assert_eq!(store["brandName"], json!("Bageriet"));
    assert_eq!(store["storeName"], json!("Bageriet Nørrebro"));
    assert_eq!(store["storeCity"], json!("København N"));
}

#[tokio::test]
async fn detailed_list_is_an_array_of_store_responses() {
    let sim = start().await;
    let api = sim.api().await;
    let resp = api.get("/stores/detailed").await;
    let stores = resp.ok().as_array().expect("a JSON array").clone();
    assert_eq!(stores.len(), 3);
    for store in &stores {
        for field in STORE_FIELDS {
            assert!(store[field].is_string(), "{field} in {store}");
        }
    }
    let filtered = api
        .get("/stores/detailed?merchantBrandId=POSDK12345&merchantLocationId=00001")
        .await;
    let filtered = filtered.ok().as_array().expect("array").clone();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["storeId"], json!(DK_STORE));
}

#[tokio::test]
async fn unknown_store_is_404_and_another_merchants_store_is_not_served() {
    let sim = start().await;
    let api = sim.api().await;
    api.get(&format!("/stores/{}", new_key())).await.bare(404);
    let other = api.get(&format!("/stores/{FI_STORE}")).await;
    assert!(
        other.status == 404 || other.status == 403,
        "a store of another merchant must not be served: {} {}",
        other.status,
        other.text
    );
    api.get("/stores/not-a-guid").await.err(400, "1099");
}
