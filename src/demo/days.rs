//! The scripted days of the demo: what the cash register sends, what the customers do, and
//! what each scene must end in. Scenes both backends play are written once.

use super::{command, command_answer, expect, Stage};
use crate::ecr::message::{EcrMessage, Flow, PaymentOptions, ReceiptLine, WireOutcome};
use crate::ecr::register::{Heard, Register};
use crate::money::Minor;
use anyhow::bail;
use std::time::Duration;

fn scene(title: &str, story: &str) {
    println!();
    println!("━━ {title} ━━");
    println!("  {story}");
}

/// A sale of `amount` on `order`, paid by scanning unless `options` say otherwise.
fn sale(id: &str, amount: i64, order: &str, reserve: bool, options: PaymentOptions) -> EcrMessage {
    EcrMessage::Pay {
        id: id.into(),
        amount: Minor(amount),
        currency: None,
        order: order.into(),
        reserve,
        options,
    }
}

/// The day against PoS V10: a payment, a prepared payment with loyalty, a reservation with a
/// partial capture, a customer who declines, a refund, and a query after the fact.
pub(super) async fn pos_v10_day(stage: &mut Stage, register: &mut Register) -> anyhow::Result<()> {
    scene(
        "1. A payment",
        "A customer buys bread for 49.95 kr. and pays with MobilePay (credit card).",
    );
    stage.customer("+4520031801", "accept").await?;
    let paid = command(
        stage,
        register,
        sale("sale-1", 4995, "R1-0001", false, PaymentOptions::default()),
    )
    .await?;
    expect(
        matches!(paid, WireOutcome::Captured { .. }),
        "the payment is captured",
    )?;
    stage.screen("approved").await?;

    scene(
        "2. A prepared payment with loyalty",
        "A loyalty member checks in before the total is known; the register gives 10% off and asks for the rest.",
    );
    stage.customer("+4520031804", "accept").await?;
    let prepared = command(
        stage,
        register,
        EcrMessage::Prepare {
            id: "sale-2-prepare".into(),
            order: "R1-0002".into(),
        },
    )
    .await?;
    let WireOutcome::Paired { customer, .. } = prepared else {
        bail!("the prepared payment was not paired: {prepared:?}")
    };
    println!(
        "  cash register: loyalty ids {:?} → 10% off 80.00 kr.",
        customer.loyalty_ids
    );
    let ready = command(
        stage,
        register,
        EcrMessage::Ready {
            id: "sale-2".into(),
            prepared: "sale-2-prepare".into(),
            amount: Minor(7200),
            currency: None,
            reserve: false,
            options: PaymentOptions::default(),
        },
    )
    .await?;
    expect(
        matches!(ready, WireOutcome::Captured { .. }),
        "the prepared payment is captured",
    )?;
    stage.screen("approved").await?;

    reservation(stage, register, "3", "+4520031805").await?;
    declined(stage, register, "4", "+4520031802").await?;
    refund(stage, register, "5").await?;

    scene(
        "6. Asking again",
        "After a power cut the register asks what became of sale-1: the stored answer comes back.",
    );
    register.send(&EcrMessage::Query {
        id: "query-1".into(),
        command: "sale-1".into(),
    });
    match tokio::time::timeout(Duration::from_secs(30), register.next()).await {
        Ok(Some(Heard::Message(message))) => println!("  terminal: {}", crate::ecr::cli::describe(&message)),
        other => bail!("no answer to the query: {other:?}"),
    }
    invoice_and_signup(stage, register, 7).await
}

/// The day against ePayment: a sale scanned from the display's code (read back from its
/// pixels and compared with the payment's URL at the simulator), a sale pushed to a phone
/// number with its receipt lines, a reservation captured in part, a customer who declines and
/// a refund.
pub(super) async fn epayment_day(stage: &mut Stage, register: &mut Register) -> anyhow::Result<()> {
    const CUSTOMER: &str = "+4591000001";
    scene(
        "1. A payment by QR code",
        "A customer buys bread for 49.95 kr. and scans the code on the display with the app.",
    );
    stage.customer(CUSTOMER, "accept").await?;
    let pay = sale("sale-1", 4995, "R1-0001", false, PaymentOptions::default());
    println!("  cash register → {}", serde_json::to_string(&pay)?);
    stage.shows_code = true;
    register.send(&pay);
    let code = stage.code_on_screen().await?;
    let paid = command_answer(stage, register).await?;
    let WireOutcome::Captured { payment_id, .. } = &paid else {
        bail!("the payment was not captured: {paid:?}")
    };
    let url = stage.payment_url(payment_id).await?;
    expect(code == url, "the code on the display is the payment's URL")?;
    println!("  the code on the display reads {code}");
    stage.screen("approved").await?;

    scene(
        "2. A payment pushed to a phone, with a receipt",
        "A regular gives the cashier her phone number; the payment and its receipt lines go to her app.",
    );
    stage.customer(CUSTOMER, "accept").await?;
    let line = |id: &str, name: &str, quantity, total| ReceiptLine {
        id: id.into(),
        name: name.into(),
        quantity: Some(quantity),
        total: Minor(total),
        vat_rate: 2500,
    };
    let pushed = PaymentOptions {
        flow: Flow::Phone,
        phone: Some("+45 91 00 00 01".into()),
        lines: vec![
            line("101", "Rugbrød", 1, 3500),
            line("205", "Kanelsnegl", 2, 5000),
        ],
        ..PaymentOptions::default()
    };
    let paid = command(stage, register, sale("sale-push", 8500, "R1-0004", false, pushed)).await?;
    expect(
        matches!(paid, WireOutcome::Captured { .. }),
        "the pushed payment is captured",
    )?;
    stage.screen("approved").await?;

    reservation(stage, register, "3", CUSTOMER).await?;
    declined(stage, register, "4", CUSTOMER).await?;
    refund(stage, register, "5").await?;
    invoice_and_signup(stage, register, 6).await
}

/// The bakery's other MobilePay products at the counter: a cake taken now and paid by invoice
/// (its code scanned from the display), and a customer joining the bread club with a first
/// payment.
async fn invoice_and_signup(stage: &mut Stage, register: &mut Register, first: usize) -> anyhow::Result<()> {
    stage.product_customers().await?;
    scene(
        &format!("{first}. An invoice"),
        "A customer takes a birthday cake for 349.00 kr. now and pays by invoice: she scans its code and pays at once in the app.",
    );
    let invoice = EcrMessage::Invoice {
        id: "invoice-1".into(),
        amount: Minor(34900),
        currency: None,
        order: "R1-0007".into(),
        phone: None,
        due: None,
        wait: Some(60),
        label: Some("Fødselsdagskage".into()),
        lines: Vec::new(),
    };
    println!("  cash register → {}", serde_json::to_string(&invoice)?);
    register.send(&invoice);
    let link = stage.scan("invoice-to-scan").await?;
    println!("  the customer's phone reads {link}");
    stage.open_scanned(&link).await?;
    let paid = command_answer(stage, register).await?;
    expect(
        matches!(paid, WireOutcome::InvoicePaid { .. }),
        "the invoice is paid",
    )?;
    stage.screen("invoice-paid").await?;

    scene(
        &format!("{}. Joining the bread club", first + 1),
        "A regular joins the bread club (99.00 kr. a month): she scans the agreement's code, accepts, and pays the first month, 49.00 kr. at the introductory price, at once.",
    );
    let signup = EcrMessage::Signup {
        id: "join-1".into(),
        order: "M-1042".into(),
        plan: "Brødklubben".into(),
        description: None,
        price: Some(Minor(9900)),
        currency: None,
        per_year: Some(12),
        phone: None,
        first_payment: Some(Minor(4900)),
        wait: None,
    };
    println!("  cash register → {}", serde_json::to_string(&signup)?);
    register.send(&signup);
    let link = stage.scan("agreement-to-scan").await?;
    println!("  the customer's phone reads {link}");
    stage.open_scanned(&link).await?;
    let joined = command_answer(stage, register).await?;
    expect(
        matches!(
            joined,
            WireOutcome::SignedUp {
                first_payment: Some(Minor(4900)),
                ..
            }
        ),
        "the customer is signed up and the first payment captured",
    )?;
    stage.screen("signed-up").await
}

/// A cake order reserved, then captured in part.
async fn reservation(
    stage: &mut Stage,
    register: &mut Register,
    number: &str,
    phone: &str,
) -> anyhow::Result<()> {
    scene(
        &format!("{number}. A reservation with partial capture"),
        "A cake order of 120.00 kr. is reserved; one item is sold out, so only 95.50 kr. is captured.",
    );
    stage.customer(phone, "accept").await?;
    let reserved = command(
        stage,
        register,
        sale("sale-3", 12000, "R1-0003", true, PaymentOptions::default()),
    )
    .await?;
    expect(
        matches!(reserved, WireOutcome::Reserved { .. }),
        "the amount is reserved",
    )?;
    stage.screen("reserved").await?;
    let captured = command(
        stage,
        register,
        EcrMessage::Capture {
            id: "sale-3-capture".into(),
            payment: "sale-3".into(),
            amount: Some(Minor(9550)),
        },
    )
    .await?;
    expect(
        matches!(
            captured,
            WireOutcome::Captured {
                amount: Minor(9550),
                ..
            }
        ),
        "95.50 is captured",
    )
}

/// A customer who declines in the app.
async fn declined(
    stage: &mut Stage,
    register: &mut Register,
    number: &str,
    phone: &str,
) -> anyhow::Result<()> {
    scene(
        &format!("{number}. A customer who declines"),
        "A customer changes their mind and declines in the app.",
    );
    stage.customer(phone, "cancel").await?;
    let declined = command(
        stage,
        register,
        sale("sale-4", 1500, "R1-0005", false, PaymentOptions::default()),
    )
    .await?;
    expect(
        matches!(declined, WireOutcome::Declined { .. }),
        "the payment is declined",
    )?;
    stage.screen("declined").await
}

/// Part of the first sale given back.
async fn refund(stage: &mut Stage, register: &mut Register, number: &str) -> anyhow::Result<()> {
    scene(
        &format!("{number}. A refund"),
        "The first customer returns a loaf: 10.00 kr. goes back to them.",
    );
    let refund = command(
        stage,
        register,
        EcrMessage::Refund {
            id: "refund-1".into(),
            payment: Some("sale-1".into()),
            order: None,
            amount: Minor(1000),
            currency: None,
            refund_order: "RF-0001".into(),
        },
    )
    .await?;
    expect(
        matches!(refund, WireOutcome::Refunded { .. }),
        "the refund is done",
    )?;
    stage.screen("refunded").await
}
