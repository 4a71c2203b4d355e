//! A command's own fields, checked before anything is stored or sent.

use super::*;

#[test]
fn command_fields_are_validated_before_anything_happens() {
    let bad = [
        (
            Command::Pay {
                amount: Minor(0),
                currency: Currency::DKK,
                order_id: "o".into(),
                keep_reservation: false,
                restrictions: None,
                label: None,
                payer: Default::default(),
                order_lines: Vec::new(),
            },
            RejectCode::InvalidAmount,
        ),
        (
            Command::Pay {
                amount: Minor(1),
                currency: Currency::DKK,
                order_id: "x".repeat(37),
                keep_reservation: false,
                restrictions: None,
                label: None,
                payer: Default::default(),
                order_lines: Vec::new(),
            },
            RejectCode::InvalidOrderId,
        ),
        (
            Command::Pay {
                amount: Minor(1),
                currency: Currency::DKK,
                order_id: "o".into(),
                keep_reservation: false,
                restrictions: None,
                label: Some("emoji 🎉".into()),
                payer: Default::default(),
                order_lines: Vec::new(),
            },
            RejectCode::InvalidLabel,
        ),
        (
            Command::Prepare {
                order_id: String::new(),
            },
            RejectCode::InvalidOrderId,
        ),
        (
            Command::Refund {
                payment: PaymentSelector::OrderId("o".into()),
                amount: Minor(-5),
                currency: Currency::DKK,
                refund_order_id: "r".into(),
            },
            RejectCode::InvalidAmount,
        ),
        (
            Command::Capture {
                target: cid("t"),
                amount: Some(Minor(0)),
            },
            RejectCode::InvalidAmount,
        ),
    ];
    for (command, code) in bad {
        assert_eq!(validate(&command).map_err(|e| e.0), Err(code), "{command:?}");
    }
    assert!(validate(&pay_command(false)).is_ok());
}

#[test]
fn an_amount_above_the_maximum_is_refused_naming_the_maximum() {
    let too_much = Minor(MAX_MINOR + 1);
    let pay = Command::Pay {
        amount: too_much,
        currency: Currency::DKK,
        order_id: "o".into(),
        keep_reservation: false,
        restrictions: None,
        label: None,
        payer: Default::default(),
        order_lines: Vec::new(),
    };
    let capture = Command::Capture {
        target: cid("t"),
        amount: Some(too_much),
    };
    let refund = Command::Refund {
        payment: PaymentSelector::OrderId("o".into()),
        amount: too_much,
        currency: Currency::DKK,
        refund_order_id: "r".into(),
    };
    for (command, what) in [
        (pay, "the amount"),
        (capture, "the capture amount"),
        (refund, "the refund amount"),
    ] {
        let (code, message) = validate(&command).unwrap_err();
        assert_eq!(code, RejectCode::InvalidAmount);
        assert_eq!(
            message,
            format!("{what} must be at most 100000000000.00 (10000000000000 in minor units)")
        );
    }
    let (_, message) = validate(&Command::Pay {
        amount: Minor(0),
        currency: Currency::DKK,
        order_id: "o".into(),
        keep_reservation: false,
        restrictions: None,
        label: None,
        payer: Default::default(),
        order_lines: Vec::new(),
    })
    .unwrap_err();
    assert_eq!(message, "the amount must be positive");
    let largest = Command::Capture {
        target: cid("t"),
        amount: Some(Minor(MAX_MINOR)),
    };
    assert!(validate(&largest).is_ok());
}
