//! `mposd ecr`: a virtual cash register that speaks the native protocol over a serial device
//! or TCP, for trying out a terminal, for scripts and for demos.

use super::link::LinkConfig;
use super::message::{
    DaemonMessage, EcrMessage, Event, Flow, PaymentOptions, QueryState, ReceiptLine, WireOutcome,
};
use super::register::{Heard, Register};
use super::serial::{Parity, SerialSettings};
use crate::money::{Currency, Minor};
use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// A virtual cash register: send one command to a terminal and show what happens.
///
/// Amounts are given in major units (49.95). Events are shown live; the command ends with its
/// outcome (an "unknown" outcome waits for its resolution). Exit status 0 means the command
/// succeeded (paid, captured, cancelled, refunded, paired); anything else exits non-zero.
#[derive(Args, Debug)]
pub struct EcrArgs {
    /// Serial device of the terminal's ECR line.
    #[arg(
        long,
        value_name = "DEVICE",
        conflicts_with = "tcp",
        required_unless_present = "tcp"
    )]
    pub port: Option<PathBuf>,
    /// TCP address of the terminal's ECR listener, e.g. 127.0.0.1:7410.
    #[arg(long, value_name = "HOST:PORT")]
    pub tcp: Option<String>,
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// none, even or odd.
    #[arg(long, default_value = "none")]
    pub parity: Parity,
    #[arg(long, default_value_t = 1)]
    pub stop_bits: u8,
    /// Print every message from the terminal as one JSON line, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command id; repeat a command by giving its id again. Default: a new unique id.
    #[arg(long, global = true, value_name = "ID")]
    pub id: Option<String>,
    /// Currency (DKK or EUR); default: the terminal's.
    #[arg(long, global = true)]
    pub currency: Option<Currency>,
    /// Give up waiting for the final answer after this many seconds.
    #[arg(long, global = true, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Subcommand, Debug)]
pub enum Action {
    /// Introduce the register and show the terminal's version and lane.
    Hello,
    /// Show whether the terminal is ready and what is running.
    Status,
    /// Take a payment.
    Pay {
        /// Amount in major units, e.g. 49.95.
        amount: String,
        #[arg(long)]
        order: String,
        /// Keep the payment reserved; finish it later with capture or cancel.
        #[arg(long)]
        reserve: bool,
        #[arg(long)]
        label: Option<String>,
        /// Push the payment to this phone number instead of letting the customer scan: the
        /// country code and the number, e.g. 4512345678 or "+45 12 34 56 78". Needs a backend
        /// that pushes (not PoS V10).
        #[arg(long, value_name = "NUMBER", conflicts_with = "personal_qr")]
        phone: Option<String>,
        /// Push the payment to the customer whose personal QR code the till scanned: the code's
        /// complete content. Needs a backend that pushes (not PoS V10).
        #[arg(long, value_name = "CODE")]
        personal_qr: Option<String>,
        /// Push the payment to the customer who last checked in at the lane's printed sticker
        /// (an ePayment lane with a sticker).
        #[arg(long, conflicts_with_all = ["phone", "personal_qr"])]
        sticker: bool,
        /// A line of the receipt shown in the customer's app, as "ID;NAME;QUANTITY;TOTAL;VAT":
        /// TOTAL in major units with VAT included, VAT in percent, QUANTITY empty for a line
        /// without a count, e.g. "5701234567890;Rugbrød;2;39.90;25". Repeat for each line;
        /// together the totals must make the amount.
        #[arg(long = "line", value_name = "ID;NAME;QUANTITY;TOTAL;VAT", value_parser = receipt_line)]
        lines: Vec<ReceiptLine>,
    },
    /// Start a payment before the total is known (the customer can check in first).
    Prepare {
        #[arg(long)]
        order: String,
    },
    /// Give the amount to a prepared payment.
    Ready {
        /// Command id of the prepare.
        prepared: String,
        amount: String,
        #[arg(long)]
        reserve: bool,
    },
    /// Capture a reservation, fully or partially.
    Capture {
        /// Command id of the pay/ready that reserved.
        payment: String,
        /// Default: the full reserved amount.
        amount: Option<String>,
    },
    /// Cancel a running payment, a reservation or a refund.
    Cancel {
        /// Command id of what to cancel.
        target: String,
    },
    /// Refund (part of) a captured payment.
    Refund {
        amount: String,
        /// Command id of the pay/ready that took the payment.
        #[arg(long, required_unless_present = "order", conflicts_with = "order")]
        payment: Option<String>,
        /// Order id of the payment (when its command id is not known).
        #[arg(long)]
        order: Option<String>,
        #[arg(long)]
        refund_order: String,
    },
    /// Issue an invoice: the customer takes the goods now and pays by the due date, scanning
    /// the invoice's QR code on the customer display or, with --phone, in the MobilePay app.
    Invoice {
        /// Amount in major units, e.g. 349.00.
        amount: String,
        #[arg(long)]
        order: String,
        /// Push the invoice to this phone number instead of showing its QR code: the country
        /// code and the number, e.g. 4512345678 or "+45 12 34 56 78".
        #[arg(long, value_name = "NUMBER")]
        phone: Option<String>,
        /// The due date, YYYY-MM-DD; default: 14 days from today.
        #[arg(long, value_name = "DATE")]
        due: Option<chrono::NaiveDate>,
        /// Seconds the customer stays at the counter (30-600 for a QR invoice, 0-600 for one pushed to a phone; default 120).
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u32>,
        #[arg(long)]
        label: Option<String>,
        /// A line of the invoice, as for pay: "ID;NAME;QUANTITY;TOTAL;VAT".
        #[arg(long = "line", value_name = "ID;NAME;QUANTITY;TOTAL;VAT", value_parser = receipt_line)]
        lines: Vec<ReceiptLine>,
    },
    /// Sign a customer up to a membership or subscription: the customer scans its QR code and
    /// accepts in the MobilePay app, paying the first amount (--first-payment) at once.
    Signup {
        /// The plan's name shown to the customer, e.g. "Brødklubben".
        plan: String,
        /// The register's reference for the sign-up, e.g. the member number.
        #[arg(long)]
        order: String,
        #[arg(long)]
        description: Option<String>,
        /// The recurring price shown to the customer, in major units, e.g. 99.00.
        #[arg(long, value_name = "AMOUNT")]
        price: Option<String>,
        /// Payments a year: 1, 2, 4, 12, 26, 52 or 365 (default: flexible).
        #[arg(long, value_name = "N")]
        per_year: Option<u32>,
        /// A first payment taken when the customer accepts, in major units.
        #[arg(long, value_name = "AMOUNT")]
        first_payment: Option<String>,
        /// The customer's phone number, to fill in MobilePay's page on another device.
        #[arg(long, value_name = "NUMBER")]
        phone: Option<String>,
        /// Seconds the customer has to accept (60-600; default 300).
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u32>,
    },
    /// Ask what happened to a command.
    Query {
        /// The command id to ask about.
        command: String,
    },
    /// Show the terminal's events until the timeout.
    Watch,
}

pub fn run(args: EcrArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: EcrArgs) -> anyhow::Result<()> {
    let id = match &args.id {
        Some(id) => id.clone(),
        None => format!("ecr-{}", uuid::Uuid::new_v4().simple()),
    };
    let message = build_message(&args, id.clone())?;
    let mut register = connect(&args).await?;
    let output = Output { json: args.json };
    if let Some(message) = &message {
        output.sent(message);
        register.send(message);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut previous: Option<DaemonMessage> = None;
    loop {
        let heard = match tokio::time::timeout_at(deadline, register.next()).await {
            Ok(Some(heard)) => heard,
            Ok(None) => bail!("the terminal closed the connection"),
            Err(_) if message.is_none() => return Ok(()),
            Err(_) => bail!(
                "no final answer within {} s; ask again with `query {id}`",
                args.timeout
            ),
        };
        let message = match heard {
            Heard::Message(message) => message,
            Heard::Unreadable(body) => {
                output.line(&format!("? unreadable message from the terminal: {body}"));
                continue;
            }
            Heard::GaveUp(_) => bail!(
                "the terminal does not acknowledge (is mposd serving this line?); the command id was {id}"
            ),
            Heard::Closed => bail!("the terminal closed the connection"),
        };
        // A first frame (sequence number 00) whose acknowledgement came too late is delivered
        // twice (protocol section 3); the copy is not news, so it is not shown again.
        if previous.as_ref() == Some(&message) {
            continue;
        }
        output.received(&message);
        if let Some(result) = finishes(&message, &id) {
            // Let the link acknowledge the last frame before the line is closed.
            let _ = register.close().await;
            return result;
        }
        previous = Some(message);
    }
}

async fn connect(args: &EcrArgs) -> anyhow::Result<Register> {
    let link = LinkConfig::default();
    if let Some(port) = &args.port {
        let settings = SerialSettings {
            baud: args.baud,
            parity: args.parity,
            stop_bits: args.stop_bits,
            ..SerialSettings::new(port)
        };
        settings.validate().map_err(|e| anyhow!(e))?;
        let stream = settings
            .open()
            .with_context(|| format!("cannot open {}", port.display()))?;
        return Ok(Register::over(stream, link));
    }
    let address = args.tcp.as_deref().unwrap_or(super::tcp::DEFAULT_LISTEN);
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to {address}"))?;
    let _ = stream.set_nodelay(true);
    Ok(Register::over(stream, link))
}

fn amount(text: &str) -> anyhow::Result<Minor> {
    Minor::parse_major(text).map_err(|e| anyhow!("amount {text:?}: {e}"))
}

/// A receipt line from `--line "ID;NAME;QUANTITY;TOTAL;VAT"`. The name may contain `;` (the
/// last three fields are taken from the end); the id may not.
fn receipt_line(text: &str) -> Result<ReceiptLine, String> {
    let shape = || format!("{text:?} is not \"ID;NAME;QUANTITY;TOTAL;VAT\"");
    let mut fields = text.rsplitn(4, ';');
    let (Some(vat), Some(total), Some(quantity), Some(head)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(shape());
    };
    let (id, name) = head.split_once(';').ok_or_else(shape)?;
    let quantity = match quantity.trim() {
        "" => None,
        q => Some(
            q.parse()
                .map_err(|_| format!("quantity {q:?} is not a whole number"))?,
        ),
    };
    let total = Minor::parse_major(total).map_err(|e| format!("total {total:?}: {e}"))?;
    // A percentage with up to two decimals is a whole number of hundredths of a percent,
    // read like an amount's minor units: 25 is 2500, 12.5 is 1250.
    let vat_rate = Minor::parse_major(vat)
        .ok()
        .and_then(|rate| u32::try_from(rate.0).ok())
        .ok_or_else(|| format!("VAT {vat:?} is not a percentage such as 25 or 12.5"))?;
    Ok(ReceiptLine {
        id: id.to_string(),
        name: name.to_string(),
        quantity,
        total,
        vat_rate,
    })
}

/// The message the action sends; `None` for `watch`.
fn build_message(args: &EcrArgs, id: String) -> anyhow::Result<Option<EcrMessage>> {
    let currency = args.currency;
    Ok(Some(match &args.action {
        Action::Hello => EcrMessage::Hello {
            id,
            protocol: Some(super::message::PROTOCOL_VERSION),
            ecr: Some(format!(
                "mposd virtual cash register {}",
                env!("CARGO_PKG_VERSION")
            )),
        },
        Action::Status => EcrMessage::Status { id },
        Action::Pay {
            amount: a,
            order,
            reserve,
            label,
            phone,
            personal_qr,
            sticker,
            lines,
        } => EcrMessage::Pay {
            id,
            amount: amount(a)?,
            currency,
            order: order.clone(),
            reserve: *reserve,
            options: PaymentOptions {
                label: label.clone(),
                flow: match (phone, personal_qr, sticker) {
                    (Some(_), ..) => Flow::Phone,
                    (None, Some(_), _) => Flow::PersonalQr,
                    (None, None, true) => Flow::Sticker,
                    (None, None, false) => Flow::Qr,
                },
                phone: phone.clone(),
                personal_qr: personal_qr.clone(),
                lines: lines.clone(),
                ..PaymentOptions::default()
            },
        },
        Action::Prepare { order } => EcrMessage::Prepare {
            id,
            order: order.clone(),
        },
        Action::Ready {
            prepared,
            amount: a,
            reserve,
        } => EcrMessage::Ready {
            id,
            prepared: prepared.clone(),
            amount: amount(a)?,
            currency,
            reserve: *reserve,
            options: PaymentOptions::default(),
        },
        Action::Capture { payment, amount: a } => EcrMessage::Capture {
            id,
            payment: payment.clone(),
            amount: a.as_deref().map(amount).transpose()?,
        },
        Action::Cancel { target } => EcrMessage::Cancel {
            id,
            target: target.clone(),
        },
        Action::Refund {
            amount: a,
            payment,
            order,
            refund_order,
        } => EcrMessage::Refund {
            id,
            payment: payment.clone(),
            order: order.clone(),
            amount: amount(a)?,
            currency,
            refund_order: refund_order.clone(),
        },
        Action::Invoice {
            amount: a,
            order,
            phone,
            due,
            wait,
            label,
            lines,
        } => EcrMessage::Invoice {
            id,
            amount: amount(a)?,
            currency,
            order: order.clone(),
            phone: phone.clone(),
            due: *due,
            wait: *wait,
            label: label.clone(),
            lines: lines.clone(),
        },
        Action::Signup {
            plan,
            order,
            description,
            price,
            per_year,
            first_payment,
            phone,
            wait,
        } => EcrMessage::Signup {
            id,
            order: order.clone(),
            plan: plan.clone(),
            description: description.clone(),
            price: price.as_deref().map(amount).transpose()?,
            currency,
            per_year: *per_year,
            phone: phone.clone(),
            first_payment: first_payment.as_deref().map(amount).transpose()?,
            wait: *wait,
        },
        Action::Query { command } => EcrMessage::Query {
            id,
            command: command.clone(),
        },
        Action::Watch => return Ok(None),
    }))
}

/// Whether `message` is the final answer to our request `id`, and how it went.
fn finishes(message: &DaemonMessage, id: &str) -> Option<anyhow::Result<()>> {
    match message {
        DaemonMessage::Hello { id: i, .. }
        | DaemonMessage::Status { id: i, .. }
        | DaemonMessage::QueryResult { id: i, .. }
            if i == id =>
        {
            Some(Ok(()))
        }
        DaemonMessage::Error {
            id: Some(i),
            code,
            message,
        } if i == id => Some(Err(anyhow!("refused ({}): {message}", code.as_str()))),
        DaemonMessage::Outcome { id: i, outcome, .. } if i == id => match outcome {
            // Not final: the resolved outcome follows.
            WireOutcome::Unknown { .. } => None,
            o if succeeded(o) => Some(Ok(())),
            o => Some(Err(anyhow!("{}", describe_outcome(o)))),
        },
        _ => None,
    }
}

fn succeeded(outcome: &WireOutcome) -> bool {
    outcome.is_approved()
        || matches!(
            outcome,
            WireOutcome::Paired { .. }
                | WireOutcome::Cancelled { .. }
                | WireOutcome::Refunded { .. }
                | WireOutcome::InvoiceScheduled { .. }
                | WireOutcome::InvoiceOutstanding { .. }
        )
}

struct Output {
    json: bool,
}

impl Output {
    fn line(&self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    fn sent(&self, message: &EcrMessage) {
        if !self.json {
            let text = String::from_utf8_lossy(&super::message::encode(message)).into_owned();
            println!("→ {text}");
        }
    }

    fn received(&self, message: &DaemonMessage) {
        if self.json {
            println!("{}", String::from_utf8_lossy(&super::message::encode(message)));
        } else {
            println!("{}", describe(message));
        }
    }
}

/// One human-readable line for a message from the terminal.
pub fn describe(message: &DaemonMessage) -> String {
    match message {
        DaemonMessage::Hello {
            product,
            version,
            lane,
            protocol,
            ..
        } => format!("✓ {product} {version}, protocol {protocol}, lane {lane}"),
        DaemonMessage::Status {
            lane,
            backend,
            running,
            alarms,
            consents,
            ..
        } => format!(
            "✓ lane {lane}: MobilePay {}; running: {}{}{}",
            match backend {
                super::message::Reachability::Online => "reachable",
                super::message::Reachability::Offline => "NOT reachable",
            },
            if running.is_empty() {
                "nothing".to_string()
            } else {
                running.join(", ")
            },
            alarms
                .iter()
                .map(|a| format!("\n  ! needs a person: {a}"))
                .collect::<String>(),
            consents
                .iter()
                .map(|c| format!(
                    "\n  consent {} ({}): {}",
                    c.merchant,
                    c.products.join(", "),
                    c.detail
                ))
                .collect::<String>()
        ),
        DaemonMessage::Accepted { id } => format!("✓ accepted {id}"),
        DaemonMessage::Event { id, event } => {
            let prefix = id.as_deref().map(|i| format!("[{i}] ")).unwrap_or_default();
            format!("… {prefix}{}", describe_event(event))
        }
        DaemonMessage::Outcome {
            id,
            outcome,
            resolved,
            ..
        } => format!(
            "{} [{id}] {}{}",
            if outcome.is_approved() || succeeded(outcome) {
                "✓"
            } else {
                "✗"
            },
            if *resolved { "resolved: " } else { "" },
            describe_outcome(outcome)
        ),
        DaemonMessage::QueryResult {
            command,
            state,
            kind,
            outcome,
            ..
        } => {
            let kind = kind.map(|k| format!("{k:?}").to_lowercase()).unwrap_or_default();
            match (state, outcome) {
                (QueryState::NotFound, _) => format!("✓ {command}: not found"),
                (QueryState::InDoubt, _) => format!(
                    "? {command}: unknown to mposd's journal, which was rebuilt after damage; \
                     check the sale before selling it again"
                ),
                (QueryState::Running, _) => format!("✓ {command} ({kind}): still running"),
                (QueryState::Finished, Some(o)) => {
                    format!("✓ {command} ({kind}): {}", describe_outcome(&o.outcome))
                }
                (QueryState::Finished, None) => format!("✓ {command} ({kind}): finished"),
            }
        }
        DaemonMessage::Error { code, message, .. } => {
            format!("✗ refused ({}): {message}", code.as_str())
        }
    }
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::WaitingForCustomer {
            amount: Some(amount),
            currency,
            ..
        } => format!(
            "waiting for the customer to pay {amount}{}",
            currency.map(|c| format!(" {c}")).unwrap_or_default()
        ),
        Event::WaitingForCustomer { .. } => "waiting for the customer to check in".into(),
        Event::CustomerCheckedIn { customer, .. } => {
            if customer.loyalty_ids.is_empty() {
                "customer checked in".into()
            } else {
                format!(
                    "customer checked in (loyalty ids {})",
                    customer.loyalty_ids.join(", ")
                )
            }
        }
        Event::Reserved {
            amount,
            partial_capture_possible,
            ..
        } => format!(
            "approved: {amount} reserved{}",
            if *partial_capture_possible {
                ""
            } else {
                " (partial capture not possible)"
            }
        ),
        Event::Captured { amount, .. } => format!("captured {amount}"),
        Event::StickerCheckIn { location } => format!("a customer checked in at the sticker ({location})"),
        Event::Declined { reason, .. } => format!("declined: {}", snake(reason)),
        Event::Cancelled { .. } => "cancelled".into(),
        Event::RefundInProgress { amount, .. } => format!("refund of {amount} in progress"),
        Event::Refunded { amount, .. } => format!("refunded {amount}"),
        Event::OutcomeUnknown { .. } => {
            "outcome unknown: MobilePay cannot be reached; do not hand over goods yet".into()
        }
        Event::NeedsHuman { detail, .. } => format!("needs a person: {detail}"),
        Event::InvoiceIssued {
            amount,
            currency,
            due_date,
            link,
            phone,
            ..
        } => match (link, phone) {
            (_, Some(phone)) => format!("invoice of {amount} {currency}, due {due_date}, sent to {phone}"),
            (Some(link), None) => {
                format!("invoice of {amount} {currency}, due {due_date}, shown as a QR code ({link})")
            }
            (None, None) => format!("invoice of {amount} {currency}, due {due_date}, issued"),
        },
        Event::InvoiceScheduled { payment_date, .. } => format!(
            "the customer scheduled the payment{} (not paid yet)",
            payment_date.map(|d| format!(" for {d}")).unwrap_or_default()
        ),
        Event::InvoicePaid { amount, .. } => format!("invoice paid: {amount}"),
        Event::InvoiceEnded { reason, .. } => format!("invoice ended unpaid: {}", snake(reason)),
        Event::AgreementPending {
            plan,
            price,
            per_year,
            first_payment,
            currency,
            link,
            ..
        } => format!(
            "agreement {plan}{}{} shown as a QR code ({link}); waiting for the customer to accept",
            price
                .map(|p| match per_year {
                    Some(n) => format!(", {p} {currency} {n} times a year"),
                    None => format!(", {p} {currency} per payment"),
                })
                .unwrap_or_default(),
            first_payment
                .map(|p| format!(", first payment {p} {currency}"))
                .unwrap_or_default()
        ),
        Event::AgreementAccepted { .. } => "the customer accepted the agreement".into(),
        Event::SignedUp { first_payment, .. } => format!(
            "signed up{}",
            first_payment
                .map(|p| format!(", first payment {p} captured"))
                .unwrap_or_default()
        ),
        Event::AgreementEnded { reason, .. } => format!("no agreement: {}", snake(reason)),
        Event::BackendOffline => "MobilePay cannot be reached".into(),
        Event::BackendOnline => "MobilePay reachable again".into(),
    }
}

fn describe_outcome(outcome: &WireOutcome) -> String {
    match outcome {
        WireOutcome::Captured {
            amount,
            currency,
            payment_id,
        } => format!("paid: {amount} {currency} captured (payment {payment_id})"),
        WireOutcome::CapturePending { amount, currency, .. } => {
            format!("paid: {amount} {currency}, capture pending")
        }
        WireOutcome::Reserved {
            amount,
            currency,
            partial_capture_possible,
            ..
        } => format!(
            "paid: {amount} {currency} reserved; capture or cancel it{}",
            if *partial_capture_possible {
                ""
            } else {
                " (only in full)"
            }
        ),
        WireOutcome::Paired { customer, .. } => format!(
            "customer checked in{}; send ready with the amount",
            if customer.loyalty_ids.is_empty() {
                String::new()
            } else {
                format!(" (loyalty ids {})", customer.loyalty_ids.join(", "))
            }
        ),
        WireOutcome::PartialCaptureRefused {
            reserved, requested, ..
        } => format!(
            "partial capture of {requested} refused for this payment; capture all {reserved} or cancel"
        ),
        WireOutcome::Declined { reason, .. } => format!("declined: {}", snake(reason)),
        WireOutcome::Cancelled { target } => format!("{target} cancelled"),
        WireOutcome::Refunded { amount, currency, .. } => format!("refunded {amount} {currency}"),
        WireOutcome::RefundCancelled { reason, .. } => {
            format!("refund not paid out: {}", snake(reason))
        }
        WireOutcome::Rejected { code, message } => format!("rejected ({code}): {message}"),
        WireOutcome::NeedsHuman { detail, .. } => format!("needs a person: {detail}"),
        WireOutcome::Unknown { .. } => {
            "outcome unknown for now; do not hand over goods; waiting for the resolution".into()
        }
        WireOutcome::InvoicePaid {
            amount,
            currency,
            invoice_id,
        } => format!("paid: invoice {invoice_id} of {amount} {currency}"),
        WireOutcome::InvoiceScheduled {
            amount,
            currency,
            payment_date,
            ..
        } => format!(
            "invoice of {amount} {currency} scheduled by the customer{}: NOT paid yet",
            payment_date.map(|d| format!(" for {d}")).unwrap_or_default()
        ),
        WireOutcome::InvoiceOutstanding {
            amount,
            currency,
            due_date,
            ..
        } => format!("invoice of {amount} {currency} issued, due {due_date}: NOT paid yet"),
        WireOutcome::InvoiceEnded { reason, .. } => format!("invoice ended unpaid: {}", snake(reason)),
        WireOutcome::SignedUp {
            agreement_id,
            first_payment,
            currency,
            ..
        } => format!(
            "signed up: agreement {agreement_id}{}",
            first_payment
                .map(|p| format!(", first payment {p} {currency} captured"))
                .unwrap_or_default()
        ),
        WireOutcome::AgreementEnded { reason, .. } => format!("no agreement: {}", snake(reason)),
    }
}

/// The wire name of a code (its JSON string).
fn snake<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_lines_are_read_from_the_command_line() {
        assert_eq!(
            receipt_line("5701234567890;Rugbrød;2;39.90;25"),
            Ok(ReceiptLine {
                id: "5701234567890".into(),
                name: "Rugbrød".into(),
                quantity: Some(2),
                total: Minor(3990),
                vat_rate: 2500,
            })
        );
        assert_eq!(
            receipt_line("fee;Service; tax; extra;;10,05;12.5"),
            Ok(ReceiptLine {
                id: "fee".into(),
                name: "Service; tax; extra".into(),
                quantity: None,
                total: Minor(1005),
                vat_rate: 1250,
            })
        );
        for (text, words) in [
            ("a;b;1;2", "is not \"ID;NAME;QUANTITY;TOTAL;VAT\""),
            ("ab;1;2;25", "is not \"ID;NAME;QUANTITY;TOTAL;VAT\""),
            ("a;b;two;2;25", "quantity \"two\" is not a whole number"),
            ("a;b;1;2.999;25", "total \"2.999\""),
            ("a;b;1;2;25%", "VAT \"25%\" is not a percentage"),
        ] {
            let err = receipt_line(text).unwrap_err();
            assert!(err.contains(words), "{text}: {err}");
        }
    }
}
