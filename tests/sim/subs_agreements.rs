//! Agreements from the merchant's side: create (201, the `mobile-pay` link a QR code carries),
//! every validation rule of the create body, no duplicate check, the paged list a client
//! searches by `external_id`, details, not-found answers and cancel.

use super::subs_support::{agreement_body, not_found, start_subs, subs_err, with_one_off, Subs};
use mposd::sim::fixtures::{FI_MERCHANT_ID, FI_VAT, PORTAL_OWNER};
use reqwest::Method;
use serde_json::{json, Value};

fn with(mut body: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        body.as_object_mut().unwrap().remove(key);
    } else {
        body[key] = value;
    }
    body
}

/// Decodes `text` through a QR symbol at level M drawn 4 pixels a module with a quiet zone,
/// as a phone's camera reads the display: what it reads, and the symbol's width.
fn through_qr(text: &str) -> (String, usize) {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .expect("fits a QR code");
    let (modules, colors) = (code.width(), code.to_colors());
    let (scale, quiet) = (4, 4);
    let side = (modules + 2 * quiet) * scale;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        let (mx, my) = ((x / scale).wrapping_sub(quiet), (y / scale).wrapping_sub(quiet));
        let dark = mx < modules && my < modules && colors[my * modules + mx] == qrcode::Color::Dark;
        if dark {
            0
        } else {
            255
        }
    });
    let grids = image.detect_grids();
    let (_, content) = grids.first().expect("a QR grid").decode().expect("decodes");
    (content, modules)
}

#[tokio::test]
async fn create_answers_201_with_a_mobile_pay_link_a_qr_code_carries_to_the_landing_page() {
    let subs = start_subs().await;
    let mut body = with_one_off("C-1");
    body["mobile_phone_number"] = json!("4512345678");
    let resp = subs.create(body).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let keys: Vec<_> = resp.json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["id", "links", "one_off_payment_id"]);
    let created = Subs::created(&resp);
    assert!(created.href.starts_with(&subs.oidc.sim.base), "{}", created.href);
    assert!(
        created.href.contains("flow=agreement") && created.href.contains(&created.id),
        "{}",
        created.href
    );
    assert!(created.href.contains("mobile=4512345678"), "{}", created.href);
    let (read, width) = through_qr(&created.href);
    assert_eq!(read, created.href);
    assert!(width <= 57, "version ≤ 10 for a small display: {width}");
    let (status, page) = subs.open(&read).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Brødklub") && page.contains("49 DKK") && page.contains("100 DKK"),
        "{page}"
    );
    assert_eq!(subs.status(&created.id).await, "Pending");
    // Without a one-off the answer has no one_off_payment_id.
    let plain = subs.create(agreement_body("C-2")).await;
    assert_eq!(plain.status, 201);
    assert!(plain.json.get("one_off_payment_id").is_none(), "{}", plain.text);
}

#[tokio::test]
async fn details_are_snake_case_with_amounts_in_major_units() {
    let subs = start_subs().await;
    let created = subs
        .agreement(with(agreement_body("D-1"), "amount", json!(49.5)))
        .await;
    let a = subs.get(&created.id).await;
    assert_eq!(a["id"], json!(created.id));
    assert_eq!(a["status"], json!("Pending"));
    assert_eq!(a["amount"], json!(49.5));
    assert_eq!(a["currency"], json!("DKK"));
    assert_eq!(a["country_code"], json!("DK"));
    assert_eq!(a["plan"], json!("Brødklub"));
    assert_eq!(a["frequency"], json!(12));
    assert_eq!(a["external_id"], json!("D-1"));
    assert_eq!(a["expiration_timeout_minutes"], json!(5));
    assert_eq!(
        (a["date_accepted"].clone(), a["date_canceled"].clone()),
        (json!(null), json!(null))
    );
    let created_at = a["date_created"].as_str().unwrap();
    assert!(
        created_at.len() == 20 && created_at.ends_with('Z'),
        "{created_at}"
    );
    let rels: Vec<_> = a["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert_eq!(
        rels,
        [
            "user-redirect",
            "success-callback",
            "cancel-callback",
            "mobile-pay"
        ]
    );
    // A quoted amount is read the same; no amount is a variable-amount agreement.
    let quoted = subs
        .agreement(with(agreement_body("D-2"), "amount", json!("49.50")))
        .await;
    assert_eq!(subs.get(&quoted.id).await["amount"], json!(49.5));
    let variable = subs
        .agreement(with(agreement_body("D-3"), "amount", json!(null)))
        .await;
    assert_eq!(subs.get(&variable.id).await["amount"], json!(null));
}

#[tokio::test]
async fn every_rule_of_the_create_body_is_a_400_naming_its_property() {
    let subs = start_subs().await;
    let link = |rel: &str, href: &str| json!({"rel": rel, "href": href});
    let links_without_cancel = json!([
        link("user-redirect", "https://a.example/"),
        link("success-callback", "https://a.example/ok")
    ]);
    let http_link = json!([
        link("user-redirect", "http://a.example/"),
        link("success-callback", "https://a.example/ok"),
        link("cancel-callback", "https://a.example/no")
    ]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("currency", json!(null), "currency is required"),
        ("currency", json!("NOK"), "not DKK or EUR"),
        ("currency", json!("EUR"), "does not go with country_code DK"),
        ("country_code", json!(null), "country_code is required"),
        ("country_code", json!("SE"), "not DK or FI"),
        ("plan", json!(null), "plan is required"),
        ("plan", json!("p".repeat(31)), "plan must be at most 30"),
        (
            "description",
            json!("d".repeat(61)),
            "description must be at most 60",
        ),
        (
            "external_id",
            json!("e".repeat(65)),
            "external_id must be at most 64",
        ),
        (
            "expiration_timeout_minutes",
            json!(null),
            "expiration_timeout_minutes is required",
        ),
        ("expiration_timeout_minutes", json!(0), "between 1 and 181440"),
        (
            "expiration_timeout_minutes",
            json!(181_441),
            "between 1 and 181440",
        ),
        ("retention_period_hours", json!(25), "between 0 and 24"),
        ("frequency", json!(3), "frequency must be one of"),
        ("amount", json!("49,00"), "amount must be an amount"),
        ("amount", json!("-1"), "must not be negative"),
        ("amount", json!(1.005), "at most two decimals"),
        ("mobile_phone_number", json!("+4512345678"), "without +"),
        ("mobile_phone_number", json!("12345678"), "45 and 8 digits"),
        ("links", json!(null), "links must contain user-redirect"),
        (
            "links",
            links_without_cancel,
            "links must contain cancel-callback",
        ),
        ("links", http_link, "must use https scheme"),
        (
            "one_off_payment",
            json!({"external_id": "x"}),
            "one_off_payment.amount is required",
        ),
        (
            "one_off_payment",
            json!({"amount": "0.00", "external_id": "x"}),
            "greater than 0",
        ),
        (
            "one_off_payment",
            json!({"amount": 10}),
            "one_off_payment.external_id is required",
        ),
        (
            "one_off_payment",
            json!({"amount": 10, "external_id": "x", "description": "d".repeat(61)}),
            "one_off_payment.description must be at most 60",
        ),
        (
            "one_off_payment",
            json!({"amount": 10, "external_id": "x", "expiration_timeout_minutes": 0}),
            "between 1 and 181440",
        ),
    ];
    for (key, value, message) in cases {
        let resp = subs.create(with(agreement_body("V-1"), key, value.clone())).await;
        subs_err(&resp, 400, "BadRequest", message);
    }
    // camelCase is not read: the snake_case property is missing.
    let camel = with(
        with(agreement_body("V-2"), "country_code", json!(null)),
        "countryCode",
        json!("DK"),
    );
    subs_err(
        &subs.create(camel).await,
        400,
        "BadRequest",
        "country_code is required",
    );
    let not_json = subs
        .oidc
        .sim
        .raw(Method::POST, &subs.path("/agreements"), &[], Some(b"{".to_vec()))
        .await;
    assert_eq!(
        not_json.status, 401,
        "the gateway answers before the body is read"
    );
    let resp = subs
        .call_with(
            Method::POST,
            &subs.path("/agreements"),
            Some(json!([1])),
            &[("CorrelationId", "corr-42")],
        )
        .await;
    subs_err(&resp, 400, "BadRequest", "not a JSON object");
    assert_eq!(resp.json["error_description"]["correlation_id"], json!("corr-42"));
    // The limits themselves pass; EUR goes with FI.
    let mut edge = agreement_body(&"e".repeat(64));
    edge["plan"] = json!("p".repeat(30));
    edge["description"] = json!("d".repeat(60));
    edge["expiration_timeout_minutes"] = json!(181_440);
    edge["retention_period_hours"] = json!(24);
    edge["frequency"] = json!(0);
    edge["currency"] = json!("EUR");
    edge["country_code"] = json!("FI");
    edge["links"]
        .as_array_mut()
        .unwrap()
        .push(link("cancel-redirect", "https://a.example/me"));
    subs.agreement(edge).await;
    assert_eq!(subs.ground().await["agreements"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_repeated_create_makes_a_second_agreement_and_the_ground_truth_counts_both() {
    let subs = start_subs().await;
    let first = subs.agreement(agreement_body("DUP-1")).await;
    let second = subs.agreement(agreement_body("DUP-1")).await;
    assert_ne!(first.id, second.id);
    let counters = subs.ground().await["counters"].clone();
    assert_eq!(counters["agreementsPerExternalId"], json!({"DUP-1": 2}));
}

#[tokio::test]
async fn the_list_is_paged_oldest_first_filtered_by_status_and_finds_an_external_id() {
    let subs = start_subs().await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(subs.agreement(agreement_body(&format!("L-{n}"))).await.id);
    }
    subs.cancel(&ids[1]).await;
    let page = |query: String| {
        let subs = &subs;
        async move {
            let resp = subs.list(&query).await;
            let body = resp.ok().clone();
            let found: Vec<String> = body["agreements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string())
                .collect();
            (body["page_size"].clone(), found)
        }
    };
    assert_eq!(
        page("pageNumber=1&pageSize=3".into()).await,
        (json!(3), ids[0..3].to_vec())
    );
    assert_eq!(page("pageNumber=2&pageSize=3".into()).await.1, ids[3..6].to_vec());
    assert_eq!(page("pageNumber=3&pageSize=3".into()).await.1, ids[6..7].to_vec());
    assert_eq!(
        page("pageNumber=4&pageSize=3".into()).await.1,
        Vec::<String>::new()
    );
    assert_eq!(page("pageNumber=1".into()).await, (json!(10), ids.clone()));
    let pending: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(
        page("status=Pending&pageNumber=1&pageSize=100".into()).await.1,
        pending
    );
    assert_eq!(
        page("status=Canceled&pageNumber=1".into()).await.1,
        vec![ids[1].clone()]
    );
    // What a client does after losing a create answer: walk the pages until a short one,
    // matching external_id.
    let mut number = 1;
    let found = loop {
        let resp = subs
            .list(&format!("status=Pending&pageSize=2&pageNumber={number}"))
            .await;
        let list = resp.ok()["agreements"].as_array().unwrap().clone();
        if let Some(a) = list.iter().find(|a| a["external_id"] == json!("L-5")) {
            break a["id"].as_str().unwrap().to_string();
        }
        assert_eq!(list.len(), 2, "L-5 must be found before a short page");
        number += 1;
    };
    assert_eq!(found, ids[5]);
    for (query, message) in [
        ("pageSize=3", "pageNumber is required"),
        ("pageNumber=0", "pageNumber starts at 1"),
        ("pageNumber=x", "pageNumber must be a whole number"),
        ("pageNumber=1&pageSize=0", "pageSize must be between 1 and 1000"),
        ("pageNumber=1&status=Paused", "Unknown status"),
    ] {
        subs_err(&subs.list(query).await, 400, "BadRequest", message);
    }
}

#[tokio::test]
async fn unknown_and_foreign_agreements_are_404_with_an_empty_body() {
    let mut subs = start_subs().await;
    let created = subs.agreement(with_one_off("F-1")).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    not_found(
        &subs
            .call(Method::GET, &subs.agreement_path(&unknown, ""), None)
            .await,
    );
    not_found(&subs.cancel(&unknown).await);
    not_found(
        &subs
            .call(
                Method::GET,
                &subs.agreement_path(&unknown, "/oneoffpayments"),
                None,
            )
            .await,
    );
    // The same merchant's other provider does not see it.
    let own = subs.provider.clone();
    subs.provider = mposd::sim::fixtures::DK_PROVIDER_PENDING.into();
    not_found(
        &subs
            .call(Method::GET, &subs.agreement_path(&created.id, ""), None)
            .await,
    );
    // Nor does another merchant, with its own provider or with ours.
    let fi = super::inv_support::consent_tokens(&subs.oidc, FI_VAT, PORTAL_OWNER, super::subs_support::SCOPE)
        .await;
    subs.token = fi["access_token"].as_str().unwrap().to_string();
    subs.provider = mposd::sim::fixtures::FI_PROVIDER.into();
    let me = subs
        .call(Method::GET, "/subscriptions/api/merchants/me", None)
        .await;
    assert_eq!(me.ok()["Id"], json!(FI_MERCHANT_ID));
    not_found(
        &subs
            .call(Method::GET, &subs.agreement_path(&created.id, ""), None)
            .await,
    );
    subs.provider = own;
    not_found(
        &subs
            .call(Method::GET, &subs.agreement_path(&created.id, ""), None)
            .await,
    );
    not_found(&subs.cancel(&created.id).await);
    let one_off = created.one_off.unwrap();
    not_found(
        &subs
            .call(Method::GET, &subs.one_off_path(&created.id, &one_off, ""), None)
            .await,
    );
    not_found(&subs.capture(&created.id, &one_off).await);
}

#[tokio::test]
async fn the_merchant_cancels_pending_or_accepted_agreements_only() {
    let subs = start_subs().await;
    let created = subs.agreement(with_one_off("X-1")).await;
    let resp = subs.cancel(&created.id).await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    let a = subs.get(&created.id).await;
    assert_eq!(a["status"], json!("Canceled"));
    assert!(a["date_canceled"].is_string(), "{a}");
    let one_off = created.one_off.unwrap();
    assert_eq!(subs.one_off_status(&created.id, &one_off).await, "Cancelled");
    subs_err(
        &subs.cancel(&created.id).await,
        412,
        "PreconditionFailed",
        "Canceled",
    );
    // The landing page has nothing left to confirm.
    assert_eq!(subs.open(&created.href).await.0, 404);
}
