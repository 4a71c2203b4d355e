//! The QR API's merchant callback QRs and check-in: stickers created and migrated, their
//! images, and a scan that reaches the sales unit's `user.checked-in.v1` webhook, whose
//! customer token then pays by push.

use super::ep_receiver::Receiver;
use super::ep_support::{start_ep, Ep, USER};
use reqwest::Method;
use serde_json::{json, Value};

const CALLBACK: &str = "/qr/v1/merchant-callback";

async fn register_check_in(ep: &Ep, url: &str) -> String {
    let resp = ep
        .send(
            Method::POST,
            "/webhooks/v1/webhooks",
            None,
            Some(json!({"url": url, "events": ["user.checked-in.v1"]})),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let body: Value = serde_json::from_str(&resp.text).expect("json");
    body["secret"].as_str().expect("secret").to_string()
}

async fn check_in(ep: &Ep, content: &str, phone: &str) -> super::common::Resp {
    ep.sim
        .post_json(
            "/_sim/epayment/checkin",
            json!({"qrContent": content, "phoneNumber": phone}),
        )
        .await
}

#[tokio::test]
async fn a_callback_qr_is_created_read_listed_and_deleted() {
    let ep = start_ep().await;
    let path = format!("{CALLBACK}/till-1");
    let put = ep
        .send(
            Method::PUT,
            &path,
            None,
            Some(json!({"locationDescription": "Till 1", "category": "IN_STORE"})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);

    let got = ep
        .send(
            Method::GET,
            &format!("{path}?QrImageFormat=PNG&QrImageSize=300"),
            None,
            None,
        )
        .await;
    let qr = got.ok().clone();
    assert_eq!(qr["merchantSerialNumber"], json!(ep.msn));
    assert_eq!(qr["merchantQrId"], json!("till-1"));
    assert_eq!(qr["locationDescription"], json!("Till 1"));
    let content = qr["qrContent"].as_str().expect("qrContent");

    // The image needs no authentication and encodes the content.
    let image_url = qr["qrImageUrl"].as_str().expect("qrImageUrl");
    let image = ep.sim.http.get(image_url).send().await.expect("image");
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    let png = image.bytes().await.expect("png");
    assert_eq!(
        super::ep_create::decode_png(&png),
        (300, vec![content.to_string()])
    );

    let listed = ep.send(Method::GET, CALLBACK, None, None).await;
    assert_eq!(listed.ok().as_array().map(Vec::len), Some(1));
    let bad_size = ep
        .send(Method::GET, &format!("{path}?QrImageSize=50"), None, None)
        .await;
    assert_eq!(bad_size.status, 400, "{}", bad_size.text);

    assert_eq!(ep.send(Method::DELETE, &path, None, None).await.status, 200);
    assert_eq!(ep.send(Method::GET, &path, None, None).await.status, 404);
    assert_eq!(
        ep.sim.http.get(image_url).send().await.expect("image").status(),
        404
    );
    let long = ep
        .send(
            Method::PUT,
            &path,
            None,
            Some(json!({"locationDescription": "x".repeat(37)})),
        )
        .await;
    assert_eq!(long.status, 400, "{}", long.text);
}

#[tokio::test]
async fn a_scan_checks_in_and_the_token_pays_by_push() {
    let ep = start_ep().await;
    let mut receiver = Receiver::start().await;
    let secret = register_check_in(&ep, &format!("{}/checkin", receiver.base)).await;
    ep.send(
        Method::PUT,
        &format!("{CALLBACK}/door"),
        None,
        Some(json!({"locationDescription": "Door"})),
    )
    .await
    .ok();
    let content = ep
        .send(Method::GET, &format!("{CALLBACK}/door"), None, None)
        .await
        .ok()["qrContent"]
        .as_str()
        .expect("qrContent")
        .to_string();

    let answer = check_in(&ep, &content, USER).await;
    answer.ok();
    let delivery = receiver.next().await;
    delivery.assert_signed_with(&secret);
    assert_eq!(delivery.body["merchantQrId"], json!("door"));
    assert_eq!(delivery.body["msn"], json!(ep.msn));
    assert!(
        delivery.body["initiatedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{}",
        delivery.body
    );
    let token = delivery.body["customerToken"].as_str().expect("customerToken");

    let reference = super::ep_support::new_reference();
    let mut body = super::ep_support::push_body(&reference, 2000);
    body["customer"] = json!({"customerToken": token});
    assert_eq!(ep.create(body.clone()).await.status, 201);
    assert_eq!(ep.step(&reference, "approve", Some(USER)).await.status, 200);
    assert_eq!(ep.state(&reference).await, "AUTHORIZED");

    // Fifteen minutes later the token is spent.
    ep.sim.advance_ms(15 * 60_000).await;
    let late = super::ep_support::new_reference();
    body["reference"] = json!(late);
    super::ep_support::problem(&ep.create(body).await, 400, Some("4050"));

    assert_eq!(
        check_in(&ep, "https://qr.vipps.no/sim/nothing", USER)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_migrated_mobilepay_sticker_checks_in_under_its_beacon_id() {
    let ep = start_ep().await;
    let mut receiver = Receiver::start().await;
    let beacon = "100000000000777";
    let sticker = format!("mobilepaypos://pos?id={beacon}&source=qr");

    let put = ep
        .send(
            Method::PUT,
            &format!("{CALLBACK}/mobilepay/{beacon}"),
            None,
            Some(json!({"locationDescription": "Old till"})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let qr = ep
        .send(Method::GET, &format!("{CALLBACK}/{beacon}"), None, None)
        .await;
    assert_eq!(qr.ok()["qrContent"], json!(sticker));

    // Without a check-in webhook the app cannot reach the store.
    assert_eq!(check_in(&ep, &sticker, USER).await.status, 409);
    let secret = register_check_in(&ep, &format!("{}/checkin", receiver.base)).await;
    check_in(&ep, &sticker, USER).await.ok();
    let delivery = receiver.next().await;
    delivery.assert_signed_with(&secret);
    assert_eq!(delivery.body["merchantQrId"], json!(beacon));

    let not_a_beacon = ep
        .send(
            Method::PUT,
            &format!("{CALLBACK}/mobilepay/till-1"),
            None,
            Some(json!({"locationDescription": "x"})),
        )
        .await;
    assert_eq!(not_a_beacon.status, 400, "{}", not_a_beacon.text);
}
