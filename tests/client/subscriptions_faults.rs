//! What MobilePay Subscriptions v1 cannot make safe by itself, against the simulator: a create
//! or refund whose answer was lost is reported as such and then found by its reference (the
//! ground truth holds exactly the one the lost request made), over as many pages of pending
//! agreements as there are; reads repeated after a server error, writes not; refusals mapped
//! to the engine's reasons.

use super::subscriptions_support::*;
use super::support::statuses;
use mposd::{
    engine::{
        agreements::{AgreementState, Agreements, NewAgreementRefund},
        backend::{BackendError, Refusal},
    },
    money::{Currency, Minor},
    sim::fixtures::{DK_PROVIDER_PENDING, FI_PROVIDER},
};

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_reference_and_not_made_twice() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    m.h.control
        .fault("subscriptionsCreateAgreement", "commitThenDrop", 1, None)
        .await;
    let lost = sign_up(Some(4900));
    let answer = agreements.create_agreement(correlation(), &lost).await;
    assert_eq!(answer.unwrap_err(), BackendError::NoAnswer);
    assert_eq!(
        m.h.control.count("subscriptionsCreateAgreement").await,
        1,
        "a create is sent once"
    );

    let found = agreements
        .find_agreement(correlation(), &lost.reference)
        .await
        .unwrap()
        .expect("the agreement the lost request made");
    let truth = m.the_agreement(&lost.reference).await;
    assert_eq!(truth["agreementId"], found.agreement_id.as_str());
    assert_eq!(
        truth["oneOffPaymentId"],
        found.first_payment_id.clone().unwrap().as_str()
    );
    assert!(
        found.link.contains(&format!("id={}", found.agreement_id)),
        "{}",
        found.link
    );
    assert_eq!(
        m.truth().await["counters"]["agreementsPerExternalId"][&lost.reference],
        1
    );

    // A request that never reached MobilePay made nothing.
    let never = agreements
        .find_agreement(correlation(), "su-never-sent")
        .await
        .unwrap();
    assert_eq!(never, None);

    // The same with a 500 after the change was made.
    m.h.control
        .fault("subscriptionsCreateAgreement", "commitThenServerError", 1, None)
        .await;
    let failed = sign_up(None);
    let answer = agreements.create_agreement(correlation(), &failed).await;
    assert!(matches!(answer, Err(BackendError::Server { .. })), "{answer:?}");
    let found = agreements
        .find_agreement(correlation(), &failed.reference)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.first_payment_id, None);
    assert_eq!(
        m.the_agreement(&failed.reference).await["agreementId"],
        found.agreement_id.as_str()
    );
}

#[tokio::test]
async fn the_look_up_reads_every_page_of_every_state() {
    let m = Merchant::start().await;
    let mut config = m.config();
    config.page_size = 2;
    let agreements = m.backend_with(config);
    for _ in 0..5 {
        create(&agreements, &sign_up(None)).await;
    }
    m.h.control
        .fault("subscriptionsCreateAgreement", "commitThenDrop", 1, None)
        .await;
    let lost = sign_up(None);
    assert_eq!(
        agreements
            .create_agreement(correlation(), &lost)
            .await
            .unwrap_err(),
        BackendError::NoAnswer
    );
    let found = agreements
        .find_agreement(correlation(), &lost.reference)
        .await
        .unwrap()
        .expect("on the third page");
    assert_eq!(
        m.the_agreement(&lost.reference).await["agreementId"],
        found.agreement_id.as_str()
    );
    assert_eq!(
        m.h.control.count("subscriptionsListAgreements").await,
        3,
        "pages 1, 2 and 3 of two pending agreements each"
    );

    // Nothing there: every page is read, up to the first short one (the fourth, empty), and
    // then the (empty) lists of every other state, one page each.
    assert_eq!(
        agreements
            .find_agreement(correlation(), "su-never-sent")
            .await
            .unwrap(),
        None
    );
    assert_eq!(m.h.control.count("subscriptionsListAgreements").await, 3 + 4 + 4);
}

/// A repeat accepted after the journal was rebuilt may be of a sign-up the customer accepted
/// and paid long ago: it is found among the accepted agreements, with its first payment, so
/// that no second agreement (and second first payment) is made.
#[tokio::test]
async fn an_accepted_agreement_is_found_by_its_reference_with_its_captured_first_payment() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    m.next_customer("accept").await;
    let signed = sign_up(Some(4_900));
    let created = create(&agreements, &signed).await;
    let payment_id = created.first_payment_id.clone().unwrap();
    agreements
        .capture_first_payment(correlation(), &created.agreement_id, &payment_id)
        .await
        .unwrap();
    let found = agreements
        .find_agreement(correlation(), &signed.reference)
        .await
        .unwrap()
        .expect("found among the accepted ones");
    assert_eq!(found.agreement_id, created.agreement_id);
    assert_eq!(found.first_payment_id.as_deref(), Some(payment_id.as_str()));
    let info = agreements
        .agreement(correlation(), &found.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.state, AgreementState::Active, "{info:?}");
    assert_eq!(
        m.the_agreement(&signed.reference).await["status"],
        "Accepted",
        "still the one agreement"
    );
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_found_by_its_reference_and_not_made_twice() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    m.next_customer("accept").await;
    let created = create(&agreements, &sign_up(Some(10_000))).await;
    let payment_id = created.first_payment_id.clone().unwrap();
    agreements
        .capture_first_payment(correlation(), &created.agreement_id, &payment_id)
        .await
        .unwrap();

    m.h.control
        .fault("subscriptionsCreateRefund", "commitThenDrop", 1, None)
        .await;
    let refund = NewAgreementRefund {
        agreement_id: created.agreement_id.clone(),
        payment_id: payment_id.clone(),
        amount: Minor(2550),
        currency: Currency::DKK,
        reference: "rf-lost-answer".into(),
    };
    assert_eq!(
        agreements.refund(correlation(), &refund).await.unwrap_err(),
        BackendError::NoAnswer
    );
    assert_eq!(m.h.control.count("subscriptionsCreateRefund").await, 1);
    let found = agreements
        .find_refund(
            correlation(),
            &created.agreement_id,
            &payment_id,
            &refund.reference,
        )
        .await
        .unwrap()
        .expect("the refund the lost request made");
    let refunds = m.ground("refunds", "paymentId", &payment_id).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["refundId"], found.as_str());
    assert_eq!(refunds[0]["amountMinor"], 2550);
    assert_eq!(m.truth().await["counters"]["refundsPerPayment"][&payment_id], 1);
}

#[tokio::test]
async fn reads_are_repeated_after_a_server_error_and_writes_are_not() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    m.next_customer("accept").await;
    let created = create(&agreements, &sign_up(Some(1000))).await;
    let payment_id = created.first_payment_id.clone().unwrap();

    m.h.control
        .fault("subscriptionsGetAgreement", "serverError", 1, None)
        .await;
    m.h.control
        .fault("subscriptionsListOneOffs", "commitThenDrop", 1, None)
        .await;
    agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(
        statuses(&m.h.control.log("subscriptionsGetAgreement").await),
        [Some(500), Some(200)]
    );
    assert_eq!(m.h.control.count("subscriptionsListOneOffs").await, 2);

    m.h.control
        .fault("subscriptionsCaptureOneOff", "serverError", 1, None)
        .await;
    let capture = agreements
        .capture_first_payment(correlation(), &created.agreement_id, &payment_id)
        .await;
    assert!(matches!(capture, Err(BackendError::Server { .. })), "{capture:?}");
    assert_eq!(m.h.control.count("subscriptionsCaptureOneOff").await, 1);

    // Reads that keep failing give up after the repeats.
    m.h.control
        .fault("subscriptionsGetAgreement", "serverError", 3, None)
        .await;
    let read = agreements.agreement(correlation(), &created.agreement_id).await;
    assert!(matches!(read, Err(BackendError::Server { .. })), "{read:?}");
}

#[tokio::test]
async fn refusals_are_mapped_to_the_engines_reasons() {
    let m = Merchant::start().await;

    // A provider that is not enabled yet.
    let mut config = m.config();
    config.provider = Some(DK_PROVIDER_PENDING.into());
    let pending = m.backend_with(config);
    let refused = pending.create_agreement(correlation(), &sign_up(None)).await;
    assert_eq!(refusal(refused), Refusal::NotSetUp);

    // Another merchant's provider is unknown to this one.
    let mut config = m.config();
    config.provider = Some(FI_PROVIDER.into());
    let foreign = m.backend_with(config);
    let refused = foreign.create_agreement(correlation(), &sign_up(None)).await;
    assert_eq!(refused.unwrap_err(), BackendError::NotFound);

    let agreements = m.backend();
    let mut long_plan = sign_up(None);
    long_plan.plan = "A plan with a name much longer than thirty characters".into();
    let refused = agreements.create_agreement(correlation(), &long_plan).await;
    match refused {
        Err(BackendError::Refused {
            reason: Refusal::Invalid,
            detail,
        }) => assert!(detail.contains("HTTP 400") && detail.contains("plan"), "{detail}"),
        other => panic!("an invalid plan: {other:?}"),
    }

    let mut zero = sign_up(Some(0));
    zero.first_payment.as_mut().unwrap().amount = Minor(0);
    assert_eq!(
        refusal(agreements.create_agreement(correlation(), &zero).await),
        Refusal::InvalidAmount
    );

    // A refund of a first payment that was never captured.
    m.next_customer("accept").await;
    let created = create(&agreements, &sign_up(Some(1000))).await;
    let payment_id = created.first_payment_id.clone().unwrap();
    let refund = NewAgreementRefund {
        agreement_id: created.agreement_id.clone(),
        payment_id: payment_id.clone(),
        amount: Minor(1000),
        currency: Currency::DKK,
        reference: "rf-not-captured".into(),
    };
    match agreements.refund(correlation(), &refund).await {
        Err(BackendError::Refused {
            reason: Refusal::StateConflict,
            detail,
        }) => assert!(detail.contains("60004"), "{detail}"),
        other => panic!("a refund of a reservation: {other:?}"),
    }
    // Of a payment that does not exist.
    let mut unknown = refund.clone();
    unknown.payment_id = "0b5e2c8a-1d3f-4e6a-9b7c-2d4e6f8a0b1c".into();
    assert_eq!(
        agreements.refund(correlation(), &unknown).await.unwrap_err(),
        BackendError::NotFound
    );
    // A capture of an unknown one-off, a cancel of an unknown agreement.
    let capture = agreements
        .capture_first_payment(correlation(), &created.agreement_id, &unknown.payment_id)
        .await;
    assert_eq!(capture.unwrap_err(), BackendError::NotFound);
    let cancel = agreements
        .cancel_agreement(correlation(), &unknown.payment_id)
        .await;
    assert_eq!(cancel.unwrap_err(), BackendError::NotFound);
}
