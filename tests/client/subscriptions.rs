//! MobilePay Subscriptions through a lane's `Agreements`, against the simulator over loopback:
//! sign-ups with and without a first payment created and read in every state the customer,
//! the clock and the merchant can bring them to; the first payment captured once and refunded
//! up to what was captured; amounts exact both ways.

use super::subscriptions_support::*;
use mposd::{
    engine::{
        agreements::{AgreementReplay, AgreementState, Agreements, FirstPaymentState, NewAgreementRefund},
        backend::Refusal,
    },
    money::{Currency, Minor},
    sim::fixtures::{DK_PROVIDER, INVOICE_USER},
};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_sign_up_without_a_first_payment_is_created_read_and_accepted() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    assert_eq!(agreements.rules().create_replay, AgreementReplay::FindByReference);
    assert_eq!(agreements.rules().polls_per_minute, 10);

    let sign_up = sign_up(None);
    let created = create(&agreements, &sign_up).await;
    assert_eq!(created.first_payment_id, None);
    assert!(
        created
            .link
            .contains(&format!("flow=agreement&id={}", created.agreement_id)),
        "{}",
        created.link
    );
    let truth = m.the_agreement(&sign_up.reference).await;
    assert_eq!(truth["agreementId"], created.agreement_id.as_str());
    assert_eq!(
        truth["providerId"], DK_PROVIDER,
        "the merchant's only enabled provider"
    );
    assert_eq!(truth["plan"], "Brødklub");
    assert_eq!(truth["amountMinor"], 4900);
    assert_eq!(truth["currency"], "DKK");
    assert_eq!(truth["mobilePhoneNumber"], "4512345678");
    assert_eq!(truth["oneOffPaymentId"], json!(null));

    let info = agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.agreement_id, created.agreement_id);
    assert_eq!(info.state, AgreementState::Pending);
    assert_eq!(info.first_payment, None);

    let accepted = m
        .user(
            INVOICE_USER,
            &format!("/agreements/v1/{}", created.agreement_id),
            json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(accepted, 204);
    let info = agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.state, AgreementState::Active);
    assert_eq!(info.first_payment, None, "the agreement has no one-off");

    // The customer cancels the running agreement in the app.
    let cancelled = m
        .user(
            INVOICE_USER,
            &format!("/users/v1/me/agreements/{}", created.agreement_id),
            json!({"status": "Canceled"}),
        )
        .await;
    assert_eq!(cancelled, 204);
    let info = agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.state, AgreementState::Cancelled);

    // The provider was looked up once for all of it; a pending agreement costs one read.
    assert_eq!(m.h.control.count("subscriptionsMerchantMe").await, 1);
    assert_eq!(m.h.control.count("subscriptionsGetAgreement").await, 3);
    assert_eq!(m.h.control.count("subscriptionsListOneOffs").await, 2);
}

#[tokio::test]
async fn a_first_payment_is_reserved_on_acceptance_captured_once_and_refunded_up_to_the_capture() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    m.next_customer("accept").await;
    let sign_up = sign_up(Some(1099));
    let created = create(&agreements, &sign_up).await;
    let payment_id = created.first_payment_id.clone().expect("the one-off's id");
    let truth = m.the_agreement(&sign_up.reference).await;
    assert_eq!(truth["oneOffPaymentId"], payment_id.as_str());
    let one_off = &m.ground("oneOffs", "paymentId", &payment_id).await[0];
    assert_eq!(one_off["externalId"], sign_up.reference.as_str());
    assert_eq!(one_off["amountMinor"], 1099);

    let info = agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.state, AgreementState::Active);
    let first = info.first_payment.expect("the first payment");
    assert_eq!(first.payment_id, payment_id);
    assert_eq!(first.state, FirstPaymentState::Reserved);
    assert_eq!(first.amount, Minor(1099));

    agreements
        .capture_first_payment(correlation(), &created.agreement_id, &payment_id)
        .await
        .unwrap();
    let again = agreements
        .capture_first_payment(correlation(), &created.agreement_id, &payment_id)
        .await;
    assert_eq!(refusal(again), Refusal::NotCapturable, "a second capture");
    let info = agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.first_payment.unwrap().state, FirstPaymentState::Captured);
    let counters = &m.truth().await["counters"];
    assert_eq!(counters["capturesPerAgreement"][&created.agreement_id], 1);
    assert_eq!(counters["reservationsPerAgreement"][&created.agreement_id], 1);

    let refund = |amount: i64| NewAgreementRefund {
        agreement_id: created.agreement_id.clone(),
        payment_id: payment_id.clone(),
        amount: Minor(amount),
        currency: Currency::DKK,
        reference: format!("rf-{}", uuid::Uuid::new_v4().simple()),
    };
    let first_refund = refund(500);
    let first_id = agreements.refund(correlation(), &first_refund).await.unwrap();
    let over = agreements.refund(correlation(), &refund(600)).await;
    assert_eq!(
        refusal(over),
        Refusal::AmountAboveRefundable,
        "5.00 + 6.00 > 10.99"
    );
    let rest = refund(599);
    let rest_id = agreements.refund(correlation(), &rest).await.unwrap();
    let more = agreements.refund(correlation(), &refund(10)).await;
    assert_eq!(refusal(more), Refusal::AmountAboveRefundable, "fully refunded");
    let tiny = agreements.refund(correlation(), &refund(9)).await;
    assert_eq!(refusal(tiny), Refusal::InvalidAmount, "below MobilePay's 0.10");

    let refunds = m.ground("refunds", "paymentId", &payment_id).await;
    let amounts: Vec<_> = refunds.iter().map(|r| r["amountMinor"].clone()).collect();
    assert_eq!(amounts, [json!(500), json!(599)]);
    assert_eq!(refunds[0]["refundId"], first_id.as_str());
    assert_eq!(refunds[0]["externalId"], first_refund.reference.as_str());
    // Refused refunds and the one below the minimum made nothing; the last was never sent.
    assert_eq!(m.h.control.count("subscriptionsCreateRefund").await, 4);

    let found = |reference: String| {
        let agreements = agreements.clone();
        let (agreement_id, payment_id) = (created.agreement_id.clone(), payment_id.clone());
        async move {
            agreements
                .find_refund(correlation(), &agreement_id, &payment_id, &reference)
                .await
                .unwrap()
        }
    };
    assert_eq!(found(first_refund.reference.clone()).await, Some(first_id));
    assert_eq!(found(rest.reference.clone()).await, Some(rest_id));
    assert_eq!(found("rf-never-sent".into()).await, None);
}

#[tokio::test]
async fn rejected_expired_and_cancelled_sign_ups_are_read_as_such_with_their_first_payment() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    let read = |id: String| {
        let agreements = agreements.clone();
        async move { agreements.agreement(correlation(), &id).await.unwrap() }
    };

    // The customer rejects: the one-off is cancelled with the agreement.
    let rejected = create(&agreements, &sign_up(Some(2500))).await;
    let answer = m
        .user(
            INVOICE_USER,
            &format!("/agreements/v1/{}", rejected.agreement_id),
            json!({"status": "Rejected"}),
        )
        .await;
    assert_eq!(answer, 204);
    let info = read(rejected.agreement_id.clone()).await;
    assert_eq!(info.state, AgreementState::Rejected);
    assert_eq!(info.first_payment.unwrap().state, FirstPaymentState::Cancelled);

    // The cashier cancels a pending sign-up; a second cancel is refused.
    let cancelled = create(&agreements, &sign_up(Some(2500))).await;
    agreements
        .cancel_agreement(correlation(), &cancelled.agreement_id)
        .await
        .unwrap();
    let info = read(cancelled.agreement_id.clone()).await;
    assert_eq!(info.state, AgreementState::Cancelled);
    assert_eq!(info.first_payment.unwrap().state, FirstPaymentState::Cancelled);
    let again = agreements
        .cancel_agreement(correlation(), &cancelled.agreement_id)
        .await;
    assert_eq!(refusal(again), Refusal::NotCancellable);

    // An accepted sign-up cancelled before its capture: the reservation goes with it.
    m.next_customer("accept").await;
    let abandoned = create(&agreements, &sign_up(Some(2500))).await;
    assert_eq!(
        read(abandoned.agreement_id.clone())
            .await
            .first_payment
            .unwrap()
            .state,
        FirstPaymentState::Reserved
    );
    agreements
        .cancel_agreement(correlation(), &abandoned.agreement_id)
        .await
        .unwrap();
    let info = read(abandoned.agreement_id.clone()).await;
    assert_eq!(info.state, AgreementState::Cancelled);
    assert_eq!(info.first_payment.unwrap().state, FirstPaymentState::Cancelled);

    // Nobody accepts in time (five minutes on the simulator's clock; the access token the box
    // holds has expired by then, and is renewed on the way).
    let ignored = create(&agreements, &sign_up(Some(2500))).await;
    m.h.advance(Duration::from_secs(6 * 60)).await;
    let info = read(ignored.agreement_id.clone()).await;
    assert_eq!(info.state, AgreementState::Expired);
    assert_eq!(info.first_payment.unwrap().state, FirstPaymentState::Cancelled);

    // A declined card: the agreement stays pending.
    m.next_customer("cardFails").await;
    let declined = create(&agreements, &sign_up(Some(2500))).await;
    assert_eq!(
        read(declined.agreement_id.clone()).await.state,
        AgreementState::Pending
    );
    let truth = &m
        .ground("agreements", "agreementId", &declined.agreement_id)
        .await[0];
    assert_eq!(truth["reservationFailures"], 1, "{truth}");

    // An agreement that does not exist.
    let unknown = agreements
        .agreement(correlation(), "0b5e2c8a-1d3f-4e6a-9b7c-2d4e6f8a0b1c")
        .await;
    assert_eq!(
        unknown.unwrap_err(),
        mposd::engine::backend::BackendError::NotFound
    );
}

#[tokio::test]
async fn amounts_are_exact_both_ways_in_either_currency() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    for (price, first, currency) in [
        (1, 1, Currency::DKK),
        (1099, 1099, Currency::EUR),
        (29_999_999, 123_456_789, Currency::DKK),
    ] {
        m.next_customer("accept").await;
        let mut sign_up = sign_up(Some(first));
        sign_up.price = Some(Minor(price));
        sign_up.currency = currency;
        sign_up.phone = None;
        let created = create(&agreements, &sign_up).await;
        let truth = m.the_agreement(&sign_up.reference).await;
        assert_eq!(truth["amountMinor"], price);
        assert_eq!(truth["currency"], currency.code());
        let payment_id = created.first_payment_id.unwrap();
        assert_eq!(
            m.ground("oneOffs", "paymentId", &payment_id).await[0]["amountMinor"],
            first
        );
        let info = agreements
            .agreement(correlation(), &created.agreement_id)
            .await
            .unwrap();
        assert_eq!(info.first_payment.unwrap().amount, Minor(first));
    }
    // A variable amount on a flexible schedule: no price is sent.
    let mut variable = sign_up(None);
    variable.price = None;
    variable.payments_per_year = None;
    create(&agreements, &variable).await;
    assert_eq!(
        m.the_agreement(&variable.reference).await["amountMinor"],
        json!(null)
    );
}
