//! MobilePay Invoice through a lane's `Invoicing`, against the simulator over loopback: links
//! and pushed invoices created, read and cancelled; the customer scheduling and paying; a
//! create whose answer was lost repeated without a second push to the phone.

use super::invoice_support::*;
use super::support::statuses;
use mposd::{
    engine::{
        backend::Refusal,
        invoicing::{CreateReplay, InvoiceDelivery, InvoiceState, Invoicing},
    },
    sim::fixtures::{DK_ISSUER, INVOICE_USER_PHONE},
};
use serde_json::json;
use std::time::Duration;

fn phone() -> InvoiceDelivery {
    InvoiceDelivery::Phone { number: PHONE.into() }
}

#[tokio::test]
async fn a_link_and_a_pushed_invoice_are_created_read_and_cancelled() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    assert_eq!(invoices.rules().create_replay, CreateReplay::RefusedAsDuplicate);
    assert_eq!(invoices.rules().max_due_days, 399);

    let link = m.invoice(1099, InvoiceDelivery::Link).await;
    let created = invoices.create_invoice(correlation(), &link).await.unwrap();
    let href = created.link.clone().expect("an InvoiceLink has a link to show");
    assert!(href.contains("/usersettings-landing-website/?token="), "{href}");
    let truth = &m.ground(&link.reference).await[0];
    assert_eq!(truth["invoiceId"], created.invoice_id.as_str());
    assert_eq!(truth["kind"], "Link");
    assert_eq!(truth["issuerId"], DK_ISSUER, "the merchant's only enabled issuer");
    assert_eq!(truth["paymentReference"], link.order_id.as_str());
    assert_eq!(truth["totalAmountMinor"], 1099);
    assert_eq!(truth["dueDate"], link.due_date.to_string());
    assert_eq!(
        m.pushes(INVOICE_USER_PHONE).await,
        0,
        "a link is pushed to nobody"
    );
    let info = invoices
        .invoice(correlation(), &created.invoice_id)
        .await
        .unwrap();
    assert_eq!(info.state, InvoiceState::Issued);
    assert_eq!(info.invoice_id, created.invoice_id);

    let direct = m.invoice(30_000_000, phone()).await;
    let pushed = invoices.create_invoice(correlation(), &direct).await.unwrap();
    assert_eq!(pushed.link, None);
    let truth = &m.ground(&direct.reference).await[0];
    assert_eq!(truth["kind"], "Direct");
    assert_eq!(truth["alias"], INVOICE_USER_PHONE);
    assert_eq!(
        truth["totalAmountMinor"], 30_000_000,
        "300 000.00 DKK, the largest invoice"
    );
    assert_eq!(m.pushes(INVOICE_USER_PHONE).await, 1);

    invoices
        .cancel_invoice(correlation(), &pushed.invoice_id)
        .await
        .unwrap();
    let info = invoices.invoice(correlation(), &pushed.invoice_id).await.unwrap();
    assert_eq!(info.state, InvoiceState::Cancelled);
    assert!(info.state.is_final());
    let again = invoices.cancel_invoice(correlation(), &pushed.invoice_id).await;
    assert_eq!(refusal(again), Refusal::NotCancellable);

    // The merchant and its issuers were asked once, for all of it.
    assert_eq!(m.h.control.count("invoiceMerchantMe").await, 1);
    assert_eq!(m.h.control.count("invoiceListIssuers").await, 1);
}

#[tokio::test]
async fn a_scheduled_invoice_is_not_paid_until_its_day_and_a_paid_one_cannot_be_cancelled() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let today = m.today().await;
    let pay_day = today + chrono::Days::new(3);
    m.customer(
        INVOICE_USER_PHONE,
        json!({"action": "schedule", "paymentDate": pay_day.to_string()}),
    )
    .await;
    let invoice = m.invoice(4995, phone()).await;
    let id = invoices
        .create_invoice(correlation(), &invoice)
        .await
        .unwrap()
        .invoice_id;
    let info = invoices.invoice(correlation(), &id).await.unwrap();
    assert_eq!(
        info.state,
        InvoiceState::Scheduled {
            payment_date: Some(pay_day)
        }
    );
    assert!(!info.state.is_final(), "scheduled is not money");
    m.h.advance(Duration::from_secs(4 * 24 * 3600)).await;
    let info = invoices.invoice(correlation(), &id).await.unwrap();
    assert_eq!(info.state, InvoiceState::Paid);
    let cancel = invoices.cancel_invoice(correlation(), &id).await;
    assert_eq!(refusal(cancel), Refusal::AlreadyPaid);
}

#[tokio::test]
async fn a_lost_create_answer_is_no_answer_and_the_identical_repeat_is_refused_without_a_second_push() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let invoice = m.invoice(4995, phone()).await;
    // Warm up the merchant and issuer look-ups, so the fault meets the create itself.
    let other = m.invoice(100, InvoiceDelivery::Link).await;
    invoices.create_invoice(correlation(), &other).await.unwrap();

    m.h.control
        .fault("invoiceCreate", "commitThenDrop", 1, None)
        .await;
    let lost = invoices.create_invoice(correlation(), &invoice).await;
    assert_eq!(lost.unwrap_err(), mposd::engine::backend::BackendError::NoAnswer);
    assert_eq!(
        m.h.control.count("invoiceCreate").await,
        1,
        "a create is not repeated by the client"
    );
    assert_eq!(m.pushes(INVOICE_USER_PHONE).await, 1, "MobilePay made it");

    let repeat = invoices.create_invoice(correlation(), &invoice).await;
    assert_eq!(refusal(repeat), Refusal::AlreadyExists);
    assert_eq!(
        m.pushes(INVOICE_USER_PHONE).await,
        1,
        "no second push to the phone"
    );
    assert_eq!(m.ground(&invoice.reference).await.len(), 1);
    let log = m.h.control.log("invoiceCreate").await;
    assert_eq!(statuses(&log), vec![None, Some(409)], "{log:?}");
}

#[tokio::test]
async fn a_repeated_link_is_refused_as_a_duplicate_and_another_reference_is_another_invoice() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let link = m.invoice(2500, InvoiceDelivery::Link).await;
    invoices.create_invoice(correlation(), &link).await.unwrap();
    let repeat = invoices.create_invoice(correlation(), &link).await;
    assert_eq!(refusal(repeat), Refusal::AlreadyExists);
    // Another reference is another invoice.
    let next = mposd::engine::invoicing::NewInvoice {
        reference: format!("{}-2", link.reference),
        ..link
    };
    invoices.create_invoice(correlation(), &next).await.unwrap();
}

#[tokio::test]
async fn reads_are_repeated_after_a_server_error_and_creates_are_not() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    let id = invoices
        .create_invoice(correlation(), &invoice)
        .await
        .unwrap()
        .invoice_id;
    m.h.control.fault("invoiceGet", "serverError", 1, None).await;
    let info = invoices.invoice(correlation(), &id).await.unwrap();
    assert_eq!(info.state, InvoiceState::Issued);
    assert_eq!(
        statuses(&m.h.control.log("invoiceGet").await),
        vec![Some(500), Some(200)]
    );

    m.h.control
        .fault("invoiceCreateLink", "serverError", 1, None)
        .await;
    let failed = invoices
        .create_invoice(correlation(), &m.invoice(1000, InvoiceDelivery::Link).await)
        .await;
    assert!(
        matches!(failed, Err(mposd::engine::backend::BackendError::Server { .. })),
        "{failed:?}"
    );
    assert_eq!(m.h.control.count("invoiceCreateLink").await, 2);
}

#[tokio::test]
async fn a_repeated_create_sends_the_very_same_bytes() {
    let m = Merchant::start().await;
    let recorder = Recorder::start(&m.h.sim.base_url()).await;
    let client = m.client_at(
        &recorder.url,
        mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_SECRET,
        m.consent.clone(),
    );
    let invoices = mposd::backends::invoice_v1::InvoiceBackend::new(client, Some(DK_ISSUER.into()));
    let invoice = m.invoice(1099, phone()).await;
    invoices.create_invoice(correlation(), &invoice).await.unwrap();
    let repeat = invoices.create_invoice(correlation(), &invoice).await;
    assert_eq!(refusal(repeat), Refusal::AlreadyExists);
    let bodies = recorder.posted_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "byte for byte");
    let sent: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(sent["InvoiceNumber"], invoice.reference.as_str());
    assert_eq!(sent["PaymentReference"], invoice.order_id.as_str());
    assert_eq!(sent["TotalAmount"].to_string(), "10.99");
    assert_eq!(
        sent["ConsumerAlias"],
        json!({"Alias": "+4557373259", "AliasType": "Phone"})
    );
    assert_eq!(sent["DueDate"], invoice.due_date.to_string());
    assert_eq!(m.pushes(INVOICE_USER_PHONE).await, 1);
}
