//! Every refusal the Invoice API gives a counter, produced by the simulator and read by the
//! client as the engine's reason: recipients, duplicates, limits, dates, issuers, amounts,
//! input, unknown invoices, a merchant without Invoice, and a currency MobilePay would not
//! invoice in (refused before anything is sent).

use super::invoice_support::*;
use mposd::{
    backends::invoice_v1::InvoiceBackend,
    engine::{
        backend::{BackendError, Refusal},
        invoicing::{InvoiceDelivery, Invoicing, NewInvoice},
    },
    money::Currency,
    sim::fixtures::{
        InvoiceIssuer, IssuerStatus, DK_ISSUER, DK_ISSUER_DISABLED, DK_ISSUER_PENDING, DK_MERCHANT_ID,
        INVOICE_USER_PHONE, OTHER_DK_VAT, PORTAL_KIOSK,
    },
};

fn to(number: &str) -> InvoiceDelivery {
    InvoiceDelivery::Phone {
        number: number.into(),
    }
}

async fn refused(invoices: &InvoiceBackend, invoice: &NewInvoice) -> Refusal {
    refusal(invoices.create_invoice(correlation(), invoice).await)
}

#[tokio::test]
async fn recipients_dates_amounts_and_input_are_refused_with_their_reasons() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let unknown = m.invoice(1000, to("4511111111")).await;
    assert_eq!(refused(&invoices, &unknown).await, Refusal::RecipientUnknown);
    let unavailable = m.invoice(1000, to("4520202020")).await;
    assert_eq!(
        refused(&invoices, &unavailable).await,
        Refusal::RecipientUnavailable
    );

    let today = m.today().await;
    let base = m.invoice(1000, InvoiceDelivery::Link).await;
    let too_far = NewInvoice {
        due_date: today + chrono::Days::new(400),
        ..base.clone()
    };
    assert_eq!(refused(&invoices, &too_far).await, Refusal::InvalidDueDate);
    let last_day = NewInvoice {
        due_date: today + chrono::Days::new(399),
        ..base.clone()
    };
    invoices.create_invoice(correlation(), &last_day).await.unwrap();
    let past = NewInvoice {
        reference: format!("{}-past", base.reference),
        due_date: today - chrono::Days::new(1),
        ..base.clone()
    };
    assert_eq!(refused(&invoices, &past).await, Refusal::InvalidDueDate);
    let issued_tomorrow = NewInvoice {
        reference: format!("{}-tomorrow", base.reference),
        issue_date: today + chrono::Days::new(1),
        ..base.clone()
    };
    assert_eq!(
        refused(&invoices, &issued_tomorrow).await,
        Refusal::InvalidDueDate
    );

    let nothing = m.invoice(0, InvoiceDelivery::Link).await;
    assert_eq!(refused(&invoices, &nothing).await, Refusal::InvalidAmount);
    let above = m.invoice(30_000_001, InvoiceDelivery::Link).await;
    assert_eq!(refused(&invoices, &above).await, Refusal::InvalidAmount);
    let long_order = NewInvoice {
        order_id: "R".repeat(61),
        ..m.invoice(1000, InvoiceDelivery::Link).await
    };
    match invoices.create_invoice(correlation(), &long_order).await {
        Err(BackendError::Refused {
            reason: Refusal::Invalid,
            detail,
        }) => assert!(
            detail.contains("HTTP 400") && detail.contains("PaymentReference"),
            "{detail}"
        ),
        other => panic!("an input error: {other:?}"),
    }
    assert_eq!(m.pushes(INVOICE_USER_PHONE).await, 0);
    assert_eq!(
        m.truth().await["invoices"].as_array().unwrap().len(),
        1,
        "only the valid one"
    );
}

#[tokio::test]
async fn the_eleventh_invoice_to_one_phone_in_a_day_is_refused() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    for _ in 0..10 {
        let invoice = m.invoice(1000, to("4557373259")).await;
        invoices.create_invoice(correlation(), &invoice).await.unwrap();
    }
    let eleventh = m.invoice(1000, to("4557373259")).await;
    assert_eq!(refused(&invoices, &eleventh).await, Refusal::DailyLimitReached);
    assert_eq!(m.pushes(INVOICE_USER_PHONE).await, 10);
}

#[tokio::test]
async fn an_issuer_that_is_not_enabled_or_not_the_merchants_is_not_set_up() {
    let m = Merchant::start().await;
    for issuer in [
        DK_ISSUER_PENDING,
        DK_ISSUER_DISABLED,
        "00000000-0000-4000-8000-000000000000",
    ] {
        let invoices = InvoiceBackend::new(m.client(), Some(issuer.into()));
        let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
        assert_eq!(refused(&invoices, &invoice).await, Refusal::NotSetUp, "{issuer}");
    }
    assert_eq!(
        m.h.control.count("invoiceListIssuers").await,
        0,
        "a configured issuer needs no look-up"
    );
}

#[tokio::test]
async fn unknown_invoices_are_not_found() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let unknown = "5d6e7f80-0000-4000-8000-000000000000";
    assert_eq!(
        invoices.invoice(correlation(), unknown).await.unwrap_err(),
        BackendError::NotFound
    );
    assert_eq!(
        invoices.cancel_invoice(correlation(), unknown).await.unwrap_err(),
        BackendError::NotFound
    );
}

#[tokio::test]
async fn a_merchant_without_invoice_is_not_set_up() {
    let m = Merchant::start().await;
    let (kiosk, _) = consent(&m.h, OTHER_DK_VAT, PORTAL_KIOSK, &["invoice"]).await;
    let invoices = InvoiceBackend::new(
        m.client_with(mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_SECRET, kiosk),
        None,
    );
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    match invoices.create_invoice(correlation(), &invoice).await {
        Err(BackendError::Refused {
            reason: Refusal::NotSetUp,
            detail,
        }) => assert!(detail.contains("HTTP 404, 10302"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_invoice_in_another_currency_than_the_merchants_is_refused_before_sending() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let euros = NewInvoice {
        currency: Currency::EUR,
        ..m.invoice(1000, InvoiceDelivery::Link).await
    };
    assert_eq!(refused(&invoices, &euros).await, Refusal::CurrencyMismatch);
    let requests = m.h.control.get("/_sim/requests").await;
    let sent: Vec<_> = requests["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["endpoint"].as_str().unwrap_or_default().starts_with("invoice"))
        .collect();
    assert!(sent.is_empty(), "{sent:?}");
}

#[tokio::test]
async fn several_enabled_issuers_and_none_configured_is_not_set_up_with_the_list() {
    let mut config = mposd::sim::SimConfig::default();
    let cafe = "4c0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c";
    config.fixtures.invoice.issuers.push(InvoiceIssuer {
        merchant_id: DK_MERCHANT_ID.into(),
        id: cafe.into(),
        name: "Bageriet Café".into(),
        status: IssuerStatus::Enabled,
        address: "Torvet 1".into(),
        city: "Aarhus".into(),
        zip_code: "8000".into(),
    });
    let m = Merchant::with(config).await;
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    match m.backend().create_invoice(correlation(), &invoice).await {
        Err(BackendError::Refused {
            reason: Refusal::NotSetUp,
            detail,
        }) => {
            assert!(detail.contains("several enabled invoice issuers"), "{detail}");
            assert!(detail.contains(DK_ISSUER) && detail.contains(cafe), "{detail}");
            assert!(!detail.contains(DK_ISSUER_PENDING), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.h.control.count("invoiceCreateLink").await, 0);
    let chosen = InvoiceBackend::new(m.client(), Some(cafe.into()));
    chosen.create_invoice(correlation(), &invoice).await.unwrap();
    assert_eq!(m.ground(&invoice.reference).await[0]["issuerId"], cafe);
}
