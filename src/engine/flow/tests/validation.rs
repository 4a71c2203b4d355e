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

/// A sale of 49.95 pushed to `payer` with the receipt `lines`.
fn pushed_sale(
    payer: crate::engine::backend::Payer,
    lines: Vec<crate::engine::backend::OrderLine>,
) -> Command {
    let mut command = pay_command(false);
    if let Command::Pay {
        payer: p,
        order_lines,
        ..
    } = &mut command
    {
        *p = payer;
        *order_lines = lines;
    }
    command
}

fn line(
    id: &str,
    name: &str,
    quantity: Option<u32>,
    total: i64,
    vat_rate: u16,
) -> crate::engine::backend::OrderLine {
    crate::engine::backend::OrderLine {
        id: id.into(),
        name: name.into(),
        quantity,
        total: Minor(total),
        vat_rate,
    }
}

#[test]
fn a_phone_number_is_digits_with_the_country_code() {
    use crate::engine::backend::Payer;
    let phone = |number: &str| {
        pushed_sale(
            Payer::Phone {
                number: number.into(),
            },
            Vec::new(),
        )
    };
    for good in ["4512345678", "4791234567", "358401234567", "123456789012345"] {
        assert_eq!(validate(&phone(good)), Ok(()), "{good}");
    }
    // A local number without its country code, too long, with a prefix or separators left
    // in, or empty.
    for bad in [
        "12345678",
        "451234567",
        "1234567890123456",
        "+4512345678",
        "004512345678",
        "45 12345678",
        "45-12-34-56-78",
        "",
        "٤٥١٢٣٤٥٦٧٨٩",
    ] {
        let (code, message) = validate(&phone(bad)).unwrap_err();
        assert_eq!(code, RejectCode::InvalidPhoneNumber, "{bad:?}");
        assert!(message.contains("country code"), "{message}");
    }
}

#[test]
fn a_personal_qr_code_is_taken_as_scanned_within_bounds() {
    use crate::engine::backend::Payer;
    let scanned = |code: String| pushed_sale(Payer::PersonalQr { code }, Vec::new());
    for good in [
        "https://qr.vipps.no/p/3f9a2c".to_string(),
        "x".into(),
        "ø".repeat(1024),
    ] {
        assert_eq!(validate(&scanned(good.clone())), Ok(()), "{good}");
    }
    for bad in [
        String::new(),
        "x".repeat(1025),
        "https://qr.vipps.no/p/3f9a2c\r\n".into(),
        "a\u{0}b".into(),
    ] {
        assert_eq!(
            validate(&scanned(bad.clone())).map_err(|e| e.0),
            Err(RejectCode::InvalidPersonalQr),
            "{bad:?}"
        );
    }
}

#[test]
fn order_lines_are_well_formed_and_add_up_to_the_amount() {
    use crate::engine::backend::Payer;
    let receipt = |lines| pushed_sale(Payer::Scans, lines);
    // 49.95 in all: two counted articles and a line without a count, VAT 25 % and 0 %.
    let good = vec![
        line("5701234567890", "Rugbrød", Some(2), 3990, 2500),
        line("bag", "Bærepose", None, 1005, 0),
        line("gift", "Gavekort (gratis)", Some(1), 0, 0),
    ];
    assert_eq!(validate(&receipt(good.clone())), Ok(()));

    let with = |n: usize, change: &dyn Fn(&mut crate::engine::backend::OrderLine)| {
        let mut lines = good.clone();
        change(&mut lines[n]);
        receipt(lines)
    };
    let cases: Vec<(Command, &str)> = vec![
        (
            with(0, &|l| l.total = Minor(3000)),
            "the order lines add up to 40.05, not to the amount 49.95",
        ),
        (
            with(1, &|l| l.id = String::new()),
            "order line 2: the id must be 1-64 characters",
        ),
        (
            with(1, &|l| l.id = "x".repeat(65)),
            "order line 2: the id must be 1-64 characters",
        ),
        (
            with(2, &|l| l.name = "a\tb".into()),
            "order line 3: the name must be 1-100 characters",
        ),
        (
            with(0, &|l| l.name = "n".repeat(101)),
            "order line 1: the name must be 1-100 characters",
        ),
        (
            with(0, &|l| l.quantity = Some(0)),
            "order line 1: the quantity must be at least 1",
        ),
        (
            with(1, &|l| l.total = Minor(-1)),
            "order line 2: the total must not be negative",
        ),
        (
            with(1, &|l| l.total = Minor(MAX_MINOR + 1)),
            "order line 2: the total must be at most 100000000000.00",
        ),
        (
            with(0, &|l| l.vat_rate = 10_001),
            "order line 1: the VAT rate must be 0-10000",
        ),
        (
            receipt(
                (0..101)
                    .map(|i| line(&format!("a{i}"), "x", None, 0, 0))
                    .collect(),
            ),
            "a receipt has at most 100 order lines, not 101",
        ),
    ];
    for (command, expected) in cases {
        let (code, message) = validate(&command).unwrap_err();
        assert_eq!(code, RejectCode::InvalidOrderLines, "{message}");
        assert!(
            message.starts_with(expected),
            "{message:?} does not start with {expected:?}"
        );
    }
    // The edges: a full VAT rate, the most lines, and no lines at all.
    assert_eq!(validate(&with(0, &|l| l.vat_rate = 10_000)), Ok(()));
    let mut most: Vec<_> = (0..99).map(|i| line(&format!("a{i}"), "x", None, 0, 0)).collect();
    most.push(line("last", "x", None, 4995, 2500));
    assert_eq!(validate(&receipt(most)), Ok(()));
    assert_eq!(validate(&receipt(Vec::new())), Ok(()));
}
