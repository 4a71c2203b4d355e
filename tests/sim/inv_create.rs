//! Creating invoices: PascalCase or camelCase in, PascalCase out, amounts in major units,
//! every validation and error code of the reference, the duplicate rule without the existing
//! id, the daily limit per consumer, no idempotency header, details and status.

use super::inv_support::{id_of, inv_err, start_inv, Inv, API};
use mposd::sim::fixtures::{
    DK_ISSUER, DK_ISSUER_DISABLED, DK_ISSUER_PENDING, FI_ISSUER, FI_MERCHANT_ID, FI_VAT, INVOICE_FI_PHONE,
    INVOICE_UNAVAILABLE_PHONE, INVOICE_USER_PHONE, PORTAL_OWNER,
};
use reqwest::Method;
use serde_json::{json, Value};

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn without(mut body: Value, key: &str) -> Value {
    body.as_object_mut().unwrap().remove(key);
    body
}

#[tokio::test]
async fn a_direct_invoice_is_answered_200_with_its_id_and_read_back_in_pascal_case() {
    let inv = start_inv().await;
    let camel = json!({
        "invoiceIssuer": DK_ISSUER,
        "consumerAlias": {"alias": "0045 5737 3259", "aliasType": "Phone"},
        "totalAmount": 10.99,
        "totalVatAmount": 2.2,
        "paymentReference": "R-100",
        "issueDate": format!("{}T08:00:00+00:00", inv.day(0).await),
        "dueDate": format!("{}T00:00:00+01:00", inv.day(14).await),
        "comment": "Thanks",
        "invoiceArticles": [{"articleDescription": "Cake", "quantity": 1.125, "pricePerUnit": 9.769, "totalPriceIncludingVat": 10.99}],
    });
    let resp = inv.create(camel).await;
    let id = id_of(&resp);
    assert_eq!(resp.json.as_object().unwrap().len(), 1, "{}", resp.text);
    let details = inv
        .call(Method::GET, &inv.path(&format!("/invoices/{id}")), None)
        .await;
    let d = details.ok();
    assert_eq!(d["InvoiceId"], json!(id));
    assert_eq!(d["TotalAmount"], json!(10.99));
    assert_eq!(d["TotalVatAmount"], json!(2.2));
    assert_eq!(d["TotalAmountExcludingVat"], json!(8.79));
    assert_eq!(d["CurrencyCode"], json!("DKK"));
    assert_eq!(d["Status"], json!("created"));
    assert_eq!(d["PaymentReference"], json!("R-100"));
    assert_eq!(d["DueDate"], json!(inv.day(14).await));
    assert_eq!(d["InvoiceIssuerName"], json!("Bageriet"));
    assert_eq!(d["InvoiceArticles"][0]["Quantity"], json!(1.125));
    assert_eq!(inv.status(&id).await, "created");
    let ground = inv.ground_invoice(&id).await;
    assert_eq!(ground["alias"], json!(INVOICE_USER_PHONE));
    assert_eq!(ground["totalAmountMinor"], json!(1099));
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 1);
}

#[tokio::test]
async fn input_errors_are_400_without_a_code() {
    let inv = start_inv().await;
    let good = inv.body("I-1").await;
    let cases = [
        without(good.clone(), "InvoiceIssuer"),
        without(good.clone(), "ConsumerAlias"),
        without(good.clone(), "TotalAmount"),
        without(good.clone(), "DueDate"),
        without(good.clone(), "InvoiceArticles"),
        with(good.clone(), "InvoiceArticles", json!([])),
        with(good.clone(), "InvoiceArticles", json!([{"Quantity": 1}])),
        without(good.clone(), "InvoiceNumber"),
        with(good.clone(), "TotalAmount", json!("360")),
        with(good.clone(), "TotalAmount", json!(1.005)),
        with(good.clone(), "TotalVATAmount", json!(7.125)),
        with(good.clone(), "PaymentReference", json!("x".repeat(61))),
        with(good.clone(), "DueDate", json!("24/12/2026")),
        with(good.clone(), "InvoiceUrl", json!("http://shop.example/i.pdf")),
        with(
            good.clone(),
            "ConsumerAlias",
            json!({"Alias": "+4612345678", "AliasType": "Phone"}),
        ),
        with(
            good.clone(),
            "ConsumerAlias",
            json!({"Alias": "4557373259", "AliasType": "Phone"}),
        ),
        with(
            good.clone(),
            "ConsumerAlias",
            json!({"Alias": INVOICE_USER_PHONE, "AliasType": "Email"}),
        ),
    ];
    for body in cases {
        let resp = inv.create(body.clone()).await;
        inv_err(&resp, 400, "InputError", None);
        assert!(
            resp.json["error_description"]
                .as_str()
                .unwrap()
                .starts_with("input."),
            "{}",
            resp.text
        );
    }
    let auth = format!("Bearer {}", inv.token);
    let mut headers = super::inv_support::APP.to_vec();
    headers.push(("Authorization", &auth));
    let not_json = inv
        .oidc
        .sim
        .raw(
            Method::POST,
            &inv.path("/invoices"),
            &headers,
            Some(b"{".to_vec()),
        )
        .await;
    inv_err(&not_json, 400, "InputError", None);
    assert!(inv.ground().await["invoices"].as_array().unwrap().is_empty());
    // A PaymentReference of exactly 60 and 8 bare digits are fine.
    let ok = with(
        with(good, "PaymentReference", json!("x".repeat(60))),
        "ConsumerAlias",
        json!({"Alias": "57 37 32 59", "AliasType": "Phone"}),
    );
    id_of(&inv.create(ok).await);
}

#[tokio::test]
async fn domain_errors_are_409_with_the_documented_codes() {
    let inv = start_inv().await;
    let good = inv.body("D-1").await;
    let alias = |phone: &str| json!({"Alias": phone, "AliasType": "Phone"});
    let cases = [
        (with(good.clone(), "InvoiceIssuer", json!(FI_ISSUER)), "10202"),
        (
            with(
                good.clone(),
                "InvoiceIssuer",
                json!(uuid::Uuid::new_v4().to_string()),
            ),
            "10202",
        ),
        (
            with(good.clone(), "InvoiceIssuer", json!(DK_ISSUER_PENDING)),
            "10303",
        ),
        (
            with(good.clone(), "InvoiceIssuer", json!(DK_ISSUER_DISABLED)),
            "10303",
        ),
        (with(good.clone(), "TotalAmount", json!(0)), "10008"),
        (with(good.clone(), "TotalAmount", json!(-5)), "10008"),
        (with(good.clone(), "TotalAmount", json!(300000.01)), "10201"),
        (with(good.clone(), "DueDate", json!(inv.day(-1).await)), "10311"),
        (with(good.clone(), "DueDate", json!(inv.day(400).await)), "10310"),
        (with(good.clone(), "IssueDate", json!(inv.day(1).await)), "10312"),
        (with(good.clone(), "ConsumerAlias", alias("+4511111111")), "10101"),
        (
            with(good.clone(), "ConsumerAlias", alias(INVOICE_UNAVAILABLE_PHONE)),
            "10102",
        ),
    ];
    for (body, code) in cases {
        let resp = inv.create(body).await;
        inv_err(&resp, 409, "DomainError", Some(code));
    }
    assert!(inv.ground().await["invoices"].as_array().unwrap().is_empty());
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 0);
    // The edges are allowed: due today, 399 days ahead, exactly 300 000 DKK, issued today.
    for (key, value) in [
        ("DueDate", json!(inv.day(0).await)),
        ("DueDate", json!(inv.day(399).await)),
        ("TotalAmount", json!(300000)),
        ("IssueDate", json!(inv.day(0).await)),
    ] {
        let body = with(inv.body(&format!("edge-{key}-{value}")).await, key, value);
        id_of(&inv.create(body).await);
    }
}

#[tokio::test]
async fn a_finnish_merchant_invoices_in_euro_up_to_2000() {
    let mut inv: Inv = start_inv().await;
    let fi =
        super::inv_support::consent_tokens(&inv.oidc, FI_VAT, PORTAL_OWNER, "openid offline_access invoice")
            .await;
    inv.token = fi["access_token"].as_str().unwrap().to_string();
    inv.merchant = FI_MERCHANT_ID.into();
    let body = with(
        with(inv.body("FI-1").await, "InvoiceIssuer", json!(FI_ISSUER)),
        "ConsumerAlias",
        json!({"Alias": "+358 40 1234567", "AliasType": "Phone"}),
    );
    let over = inv
        .create(with(body.clone(), "TotalAmount", json!(2000.01)))
        .await;
    inv_err(&over, 409, "DomainError", Some("10201"));
    let id = id_of(&inv.create(with(body, "TotalAmount", json!(2000))).await);
    let details = inv
        .call(Method::GET, &inv.path(&format!("/invoices/{id}")), None)
        .await;
    assert_eq!(details.ok()["CurrencyCode"], json!("EUR"));
    assert_eq!(details.json["MerchantIsoCountryCode"], json!("FI"));
    assert_eq!(inv.pushes(INVOICE_FI_PHONE).await, 1);
}

#[tokio::test]
async fn an_identical_invoice_is_refused_without_its_id_and_pushes_nothing() {
    let inv = start_inv().await;
    let body = inv.body("DUP-1").await;
    let id = id_of(&inv.create(body.clone()).await);
    // Same content, other casing and order: still the same invoice. A new Idempotency-Key
    // changes nothing: the API has no such header.
    let mut camel = serde_json::Map::new();
    for (k, v) in body.as_object().unwrap().iter().rev() {
        let mut key = k.clone();
        key[..1].make_ascii_lowercase();
        camel.insert(key, v.clone());
    }
    for again in [body.clone(), Value::Object(camel)] {
        let resp = inv
            .call_with(
                Method::POST,
                &inv.path("/invoices"),
                Some(again),
                &[
                    ("Idempotency-Key", &uuid::Uuid::new_v4().to_string()),
                    ("CorrelationId", "retry-7"),
                ],
            )
            .await;
        inv_err(&resp, 409, "DomainError", Some("10104"));
        assert_eq!(resp.json["error_description"], json!("Invoice already exists"));
        assert_eq!(resp.json["correlation_id"], json!("retry-7"));
        assert!(
            !resp.text.contains(&id),
            "the existing id is not given: {}",
            resp.text
        );
    }
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 1);
    // One field different is a new invoice, even with a reused Idempotency-Key.
    let key = [("Idempotency-Key", "same-key")];
    let a = inv
        .call_with(
            Method::POST,
            &inv.path("/invoices"),
            Some(with(body.clone(), "Comment", json!("a"))),
            &key,
        )
        .await;
    let b = inv
        .call_with(
            Method::POST,
            &inv.path("/invoices"),
            Some(with(body, "Comment", json!("b"))),
            &key,
        )
        .await;
    assert_ne!(id_of(&a), id_of(&b));
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 3);
    // A link duplicate has its own code.
    let link = without(inv.body("DUP-L").await, "ConsumerAlias");
    inv.link(link.clone()).await;
    inv_err(&inv.create_link(link).await, 409, "DomainError", Some("10301"));
}

#[tokio::test]
async fn ten_invoices_per_consumer_per_merchant_per_day() {
    let mut inv = start_inv().await;
    inv.advance_to_day(1, 60_000).await;
    for n in 0..10 {
        id_of(&inv.create(inv.body(&format!("L-{n}")).await).await);
    }
    let eleventh = inv.create(inv.body("L-10").await).await;
    inv_err(&eleventh, 409, "DomainError", Some("10314"));
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 10);
    // Another consumer is not limited; the next day the count starts again.
    let other_alias =
        json!({"Alias": mposd::sim::fixtures::INVOICE_EXPIRED_CARD_PHONE, "AliasType": "Phone"});
    id_of(
        &inv.create(with(inv.body("L-other").await, "ConsumerAlias", other_alias))
            .await,
    );
    inv.advance_to_day(1, 0).await;
    id_of(&inv.create(inv.body("L-11").await).await);
}

#[tokio::test]
async fn a_link_has_an_opaque_href_to_a_landing_page_and_no_push() {
    let inv = start_inv().await;
    let body = without(inv.body("LINK-1").await, "ConsumerAlias");
    let (id, href) = inv.link(body).await;
    assert!(href.starts_with(&inv.oidc.sim.base), "{href}");
    assert!(!href.contains(&id), "the Href is opaque: {href}");
    assert!(href.len() < 200, "fits a QR code: {href}");
    let (status, page) = inv.open(&href).await;
    assert_eq!(status, 200);
    assert!(page.contains("LINK-1") && page.contains("360 DKK"), "{page}");
    assert_eq!(inv.status(&id).await, "created");
    assert!(inv.ground().await["pushes"].as_object().unwrap().is_empty());
    // The QR on the display carries the Href.
    let code = qrcode::QrCode::new(href.as_bytes()).expect("the Href fits a QR code");
    assert!(
        code.width() <= 57,
        "version ≤ 10 for a small display: {}",
        code.width()
    );
}

#[tokio::test]
async fn unknown_and_foreign_invoices_are_not_found() {
    let mut inv = start_inv().await;
    let id = inv.direct(inv.body("F-1").await).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for path in [
        format!("/invoices/{unknown}"),
        format!("/invoices/{unknown}/status"),
    ] {
        let resp = inv.call(Method::GET, &inv.path(&path), None).await;
        inv_err(&resp, 404, "DomainError", None);
    }
    let fi =
        super::inv_support::consent_tokens(&inv.oidc, FI_VAT, PORTAL_OWNER, "openid offline_access invoice")
            .await;
    inv.token = fi["access_token"].as_str().unwrap().to_string();
    inv.merchant = FI_MERCHANT_ID.into();
    for path in [format!("/invoices/{id}"), format!("/invoices/{id}/status")] {
        let resp = inv.call(Method::GET, &inv.path(&path), None).await;
        inv_err(&resp, 404, "DomainError", None);
    }
    inv_err(&inv.cancel(&id).await, 404, "DomainError", None);
    assert_eq!(
        inv.call(Method::GET, &format!("{API}/merchants/me"), None)
            .await
            .ok()["MerchantId"],
        json!(FI_MERCHANT_ID)
    );
}

#[tokio::test]
async fn date_rules_follow_the_virtual_clock() {
    let mut inv = start_inv().await;
    let issued_tomorrow = with(inv.body("VC-1").await, "IssueDate", json!(inv.day(1).await));
    let due_today = with(inv.body("VC-2").await, "DueDate", json!(inv.day(0).await));
    inv_err(
        &inv.create(issued_tomorrow.clone()).await,
        409,
        "DomainError",
        Some("10312"),
    );
    inv.advance_to_day(1, 0).await;
    id_of(&inv.create(issued_tomorrow).await);
    inv_err(&inv.create(due_today).await, 409, "DomainError", Some("10311"));
}
