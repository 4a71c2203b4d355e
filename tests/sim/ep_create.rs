//! ePayment: creating payments, every rule of the create request, and the QR image.

use super::ep_support::*;
use mposd::sim::fixtures::{
    personal_qr_of, EP_OTHER_CLIENT_ID, EP_OTHER_CLIENT_SECRET, EP_OTHER_MSN, EP_OTHER_SUBSCRIPTION_KEY,
};
use serde_json::{json, Value};

#[tokio::test]
async fn a_push_payment_is_created_without_redirect_and_reads_back_created() {
    let ep = start_ep().await;
    let reference = new_reference();
    let resp = ep.create(push_body(&reference, 1250)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.json, json!({"reference": reference}));
    let payment = ep.get(&reference).await.ok().clone();
    assert_eq!(payment["state"], json!("CREATED"));
    assert_eq!(payment["amount"], json!({"currency": "DKK", "value": 1250}));
    let zero = json!({"currency": "DKK", "value": 0});
    for field in [
        "authorizedAmount",
        "cancelledAmount",
        "capturedAmount",
        "refundedAmount",
    ] {
        assert_eq!(payment["aggregate"][field], zero, "{field}: {payment}");
    }
    assert_eq!(payment["paymentMethod"]["type"], json!("WALLET"));
    assert_eq!(payment["profile"], json!({}));
    let events = ep.events(&reference).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["name"], json!("CREATED"));
    assert_eq!(events[0]["success"], json!(true));
    assert_eq!(payment["pspReference"], events[0]["pspReference"]);
}

#[tokio::test]
async fn the_reference_follows_its_pattern_and_is_unique_per_sales_unit() {
    let ep = start_ep().await;
    for bad in ["short-1", &"a".repeat(65), "till_1_000001", "till 1 000001"] {
        field_error(&ep.create(push_body(bad, 100)).await, "reference");
    }
    let reference = new_reference();
    assert_eq!(ep.create(push_body(&reference, 100)).await.status, 201);
    let again = ep.create(push_body(&reference, 100)).await;
    problem(&again, 409, Some("4150"));
    // References are case-sensitive.
    assert_eq!(
        ep.create(push_body(&reference.to_uppercase(), 100)).await.status,
        201
    );

    // Another sales unit may use the same reference.
    let token = token_for(
        &ep.sim,
        EP_OTHER_CLIENT_ID,
        EP_OTHER_CLIENT_SECRET,
        EP_OTHER_SUBSCRIPTION_KEY,
    )
    .await;
    let other = Ep {
        sim: ep.sim,
        token,
        msn: EP_OTHER_MSN.into(),
        subscription_key: EP_OTHER_SUBSCRIPTION_KEY.into(),
    };
    assert_eq!(other.create(qr_body(&reference, 100, None)).await.status, 201);
}

#[tokio::test]
async fn amounts_are_whole_minor_units_in_the_sales_units_currency() {
    let ep = start_ep().await;
    let with_amount = |amount: Value| {
        let mut body = push_body(&new_reference(), 0);
        body["amount"] = amount;
        body
    };
    let decimal = ep
        .create(with_amount(json!({"currency": "DKK", "value": 12.5})))
        .await;
    problem(&decimal, 400, Some("4040"));
    let too_large = ep
        .create(with_amount(json!({"currency": "DKK", "value": 65_000_001})))
        .await;
    problem(&too_large, 400, Some("4040"));
    let zero = ep
        .create(with_amount(json!({"currency": "DKK", "value": 0})))
        .await;
    problem(&zero, 400, Some("6010"));
    let euro = ep
        .create(with_amount(json!({"currency": "EUR", "value": 100})))
        .await;
    problem(&euro, 400, Some("5040"));
    let unknown = ep
        .create(with_amount(json!({"currency": "SEK", "value": 100})))
        .await;
    field_error(&unknown, "amount.currency");
    let largest = ep
        .create(with_amount(json!({"currency": "DKK", "value": 65_000_000})))
        .await;
    assert_eq!(largest.status, 201, "{}", largest.text);
    let smallest = ep
        .create(with_amount(json!({"currency": "DKK", "value": 1})))
        .await;
    assert_eq!(smallest.status, 201, "{}", smallest.text);
}

#[tokio::test]
async fn required_fields_are_named_when_missing() {
    let ep = start_ep().await;
    for field in ["amount", "paymentMethod", "reference", "userFlow"] {
        let mut body = push_body(&new_reference(), 100);
        body.as_object_mut().unwrap().remove(field);
        field_error(&ep.create(body).await, field);
    }
    let mut long = push_body(&new_reference(), 100);
    long["paymentDescription"] = json!("x".repeat(101));
    field_error(&ep.create(long).await, "paymentDescription");
    let mut both = push_body(&new_reference(), 100);
    both["receipt"] = json!({"orderLines": [], "bottomLine": {"currency": "DKK"}});
    both["receiptUrl"] = json!("https://shop.example/receipt/1");
    field_error(&ep.create(both).await, "receiptUrl");
    // Fields the simulator does not know are accepted, as the reference names no rule.
    let mut extra = push_body(&new_reference(), 100);
    extra["someFutureField"] = json!(true);
    assert_eq!(ep.create(extra).await.status, 201);
}

/// The receipt is checked against the Order Management shape and kept as sent, so a till sees
/// in the ground truth what the app would show.
#[tokio::test]
async fn the_receipt_is_checked_and_kept() {
    let ep = start_ep().await;
    let receipt = json!({
        "orderLines": [{
            "name": "Rugbrød", "id": "4711", "totalAmount": 4500,
            "totalAmountExcludingTax": 3600, "totalTaxAmount": 900, "taxRate": 2500,
            "unitInfo": {"unitPrice": 2250, "quantity": "2", "quantityUnit": "PCS"}
        }],
        "bottomLine": {"currency": "DKK", "receiptNumber": "R1-0001"}
    });
    let reference = new_reference();
    let mut body = push_body(&reference, 4500);
    body["receipt"] = receipt.clone();
    let created = ep.create(body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(ep.ground(&reference).await["receipt"], receipt);

    let broken = [
        (
            "/orderLines/0/taxRate",
            json!(10_001),
            "receipt.orderLines[0].taxRate",
        ),
        ("/orderLines/0/name", Value::Null, "receipt.orderLines[0].name"),
        (
            "/orderLines/0/totalAmountExcludingTax",
            json!("3600"),
            "receipt.orderLines[0].totalAmountExcludingTax",
        ),
        (
            "/orderLines/0/unitInfo/quantityUnit",
            json!("BOX"),
            "receipt.orderLines[0].unitInfo.quantityUnit",
        ),
        (
            "/bottomLine/currency",
            json!("EUR"),
            "receipt.bottomLine.currency",
        ),
        ("/bottomLine", Value::Null, "receipt.bottomLine"),
    ];
    for (pointer, value, field) in broken {
        let mut bad = receipt.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        let reference = new_reference();
        let mut body = push_body(&reference, 4500);
        body["receipt"] = bad;
        field_error(&ep.create(body).await, field);
        assert!(
            ep.sim.get("/_sim/epayment/payments").await.ok()["payments"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["reference"] != json!(reference)),
            "a refused create leaves no payment"
        );
    }
}

#[tokio::test]
async fn customer_is_one_of_phone_personal_qr_and_token() {
    let ep = start_ep().await;
    let with_customer = |customer: Value| {
        let mut body = push_body(&new_reference(), 100);
        body["customer"] = customer;
        body
    };
    let two = with_customer(json!({"phoneNumber": USER, "personalQr": personal_qr_of(USER)}));
    field_error(&ep.create(two).await, "customer");
    problem(&ep.create(with_customer(json!({}))).await, 400, Some("4140"));
    problem(
        &ep.create(with_customer(json!({"phoneNumber": "+4591000001"})))
            .await,
        400,
        Some("4070"),
    );
    problem(
        &ep.create(with_customer(json!({"phoneNumber": "4599999999"})))
            .await,
        400,
        Some("7010"),
    );
    problem(
        &ep.create(with_customer(json!({"personalQr": "abc"}))).await,
        400,
        Some("4060"),
    );
    problem(
        &ep.create(with_customer(json!({"personalQr": "https://qr.example/unknown"})))
            .await,
        400,
        Some("7010"),
    );
    problem(
        &ep.create(with_customer(json!({"customerToken": "dG9rZW4="})))
            .await,
        400,
        Some("4050"),
    );

    let by_qr = with_customer(json!({"personalQr": personal_qr_of(OTHER_USER)}));
    let reference = by_qr["reference"].as_str().unwrap().to_string();
    assert_eq!(ep.create(by_qr).await.status, 201);
    // The push went to the scanned customer: someone else cannot answer it.
    let wrong = ep.step(&reference, "approve", Some(USER)).await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    ep.step(&reference, "approve", Some(OTHER_USER)).await.ok();
    assert_eq!(ep.state(&reference).await, "AUTHORIZED");
}

#[tokio::test]
async fn user_flows_need_their_fields_and_the_sales_units_approval() {
    let ep = start_ep().await;
    let flow = |flow: &str, extra: Value| {
        let mut body = qr_body(&new_reference(), 100, None);
        body["userFlow"] = json!(flow);
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    field_error(&ep.create(flow("WEB_REDIRECT", json!({}))).await, "returnUrl");
    let web = ep
        .create(flow(
            "WEB_REDIRECT",
            json!({"returnUrl": "https://shop.example/done", "customer": {}}),
        ))
        .await;
    assert_eq!(web.status, 201, "{}", web.text);
    assert!(
        web.json["redirectUrl"]
            .as_str()
            .is_some_and(|u| u.contains("/landing/v1?token=")),
        "{}",
        web.text
    );
    let native = ep.create(flow("NATIVE_REDIRECT", json!({}))).await;
    assert!(
        native.json["redirectUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("vipps://")),
        "{}",
        native.text
    );
    field_error(&ep.create(flow("CARRIER_PIGEON", json!({}))).await, "userFlow");
    let card = ep
        .create(flow("QR", json!({"paymentMethod": {"type": "CARD"}})))
        .await;
    field_error(&card, "paymentMethod.type");
    let long_living = ep
        .create(flow("QR", json!({"expiresAt": "2030-01-01T00:00:00Z"})))
        .await;
    problem(&long_living, 400, Some("5050"));

    let mut push_with_qr = push_body(&new_reference(), 100);
    push_with_qr["qrFormat"] = json!({"format": "IMAGE/PNG"});
    field_error(&ep.create(push_with_qr).await, "qrFormat");
    let tiny = ep
        .create(qr_body(
            &new_reference(),
            100,
            Some(json!({"format": "IMAGE/PNG", "size": 99})),
        ))
        .await;
    field_error(&tiny, "qrFormat.size");

    let token = token_for(
        &ep.sim,
        EP_OTHER_CLIENT_ID,
        EP_OTHER_CLIENT_SECRET,
        EP_OTHER_SUBSCRIPTION_KEY,
    )
    .await;
    let other = Ep {
        sim: ep.sim,
        token,
        msn: EP_OTHER_MSN.into(),
        subscription_key: EP_OTHER_SUBSCRIPTION_KEY.into(),
    };
    problem(
        &other.create(push_body(&new_reference(), 100)).await,
        400,
        Some("5080"),
    );
}

/// Fetches a QR image without any credentials; returns the content type and the bytes.
async fn fetch_image(ep: &Ep, url: &str) -> (u16, String, Vec<u8>) {
    let resp = ep.sim.http.get(url).send().await.expect("image request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        resp.bytes().await.expect("image body").to_vec(),
    )
}

pub fn decode_png(bytes: &[u8]) -> (u32, Vec<String>) {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    assert_eq!(w, h, "square image");
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let contents = image
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, content)| content))
        .collect();
    (info.width, contents)
}

#[tokio::test]
async fn qr_payments_link_an_image_without_auth_that_disappears_after_expiry() {
    let ep = start_ep().await;
    let png = ep
        .create(qr_body(
            &new_reference(),
            100,
            Some(json!({"format": "IMAGE/PNG", "size": 400})),
        ))
        .await;
    assert_eq!(png.status, 201, "{}", png.text);
    let reference = png.json["reference"].as_str().unwrap().to_string();
    let url = png.json["redirectUrl"].as_str().expect("redirectUrl").to_string();
    let (status, content_type, bytes) = fetch_image(&ep, &url).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    let (side, contents) = decode_png(&bytes);
    assert_eq!(side, 400);
    let content = ep.ground(&reference).await["qrContent"].clone();
    assert_eq!(contents, [content.as_str().expect("qrContent").to_string()]);

    let svg = ep.create(qr_body(&new_reference(), 100, None)).await;
    let svg_url = svg.json["redirectUrl"].as_str().unwrap().to_string();
    let (status, content_type, body) = fetch_image(&ep, &svg_url).await;
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    assert!(String::from_utf8(body).unwrap().starts_with("<svg"));

    let text = ep
        .create(qr_body(
            &new_reference(),
            100,
            Some(json!({"format": "TEXT/TARGETURL"})),
        ))
        .await;
    let text_reference = text.json["reference"].as_str().unwrap().to_string();
    assert_eq!(
        text.json["redirectUrl"],
        ep.ground(&text_reference).await["qrContent"]
    );

    ep.sim.advance_ms(10 * 60_000).await;
    assert_eq!(fetch_image(&ep, &url).await.0, 404);
    assert_eq!(fetch_image(&ep, &svg_url).await.0, 404);
    assert_eq!(ep.state(&reference).await, "EXPIRED");
}

#[tokio::test]
async fn the_qr_image_is_gone_once_the_payment_is_answered() {
    let ep = start_ep().await;
    let qr = ep.create(qr_body(&new_reference(), 100, None)).await;
    let reference = qr.json["reference"].as_str().unwrap().to_string();
    let url = qr.json["redirectUrl"].as_str().unwrap().to_string();
    assert_eq!(fetch_image(&ep, &url).await.0, 200);
    ep.step(&reference, "approve", Some(USER)).await.ok();
    assert_eq!(fetch_image(&ep, &url).await.0, 404);
    // A payment asked for as TEXT/TARGETURL has no image.
    let text = ep
        .create(qr_body(
            &new_reference(),
            100,
            Some(json!({"format": "TEXT/TARGETURL"})),
        ))
        .await;
    let token = text.json["redirectUrl"]
        .as_str()
        .unwrap()
        .split('=')
        .next_back()
        .unwrap()
        .to_string();
    let image_url = ep.sim.url(&format!("/qr-image/v1?token={token}"));
    assert_eq!(fetch_image(&ep, &image_url).await.0, 404);
}
