//! `mposd display`: list board profiles, render a screen to a PNG, or show every screen on a
//! board's display in turn (a wiring check for installers and the terminal demo).

use super::board::BoardProfile;
use super::content::Content;
use super::device;
use super::language::Language;
use super::qr_size;
use super::render::{render_picture, Look};
use super::screen::{BackendCode, Reason, Screen, StaffHint};
use crate::money::{Currency, Minor};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use embedded_graphics::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

/// Work with the customer display without running the daemon.
#[derive(Args, Debug)]
pub struct DisplayArgs {
    #[command(subcommand)]
    pub command: DisplayCommand,
    /// Extra board profiles (`NAME.toml`), searched before the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    pub boards_dir: Option<PathBuf>,
    /// Language of the customer texts: da, fi or en.
    #[arg(long, global = true, default_value = "da")]
    pub language: Language,
    /// Text in the header bar (shop or till name).
    #[arg(long, global = true, default_value = "MobilePay")]
    pub header: String,
    /// Beacon id encoded in the QR code.
    #[arg(long, global = true, default_value = "123456789012345")]
    pub beacon: String,
}

#[derive(Subcommand, Debug)]
pub enum DisplayCommand {
    /// List the board profiles.
    Boards,
    /// Render one screen to a PNG file.
    Render {
        /// Panel size, e.g. 320x240.
        #[arg(long, default_value = "320x240", value_parser = parse_size)]
        size: Size,
        /// closed, idle, scan-to-pay, code-loading, code-unavailable, checked-in, approved,
        /// declined, cancelled, refund, refund-done, offline, invoice-link, invoice-pushed,
        /// invoice-scheduled, invoice-outstanding (invoices due in 14 days), signup-link (the
        /// amount a month and as the first payment, to accept within 5 minutes),
        /// signup-accepted, signed-up or signup-ended.
        #[arg(long, default_value = "scan-to-pay")]
        screen: String,
        /// Amount in major units, e.g. 149.95.
        #[arg(long, default_value = "149.95")]
        amount: String,
        #[arg(long, default_value = "DKK")]
        currency: Currency,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Show every screen on a board's display, one after the other.
    Demo {
        /// Board profile name (see `mposd display boards`).
        #[arg(long, default_value = "terminal")]
        board: String,
        /// Seconds per screen.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
}

fn parse_size(text: &str) -> Result<Size, String> {
    let (w, h) = text
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 320x240")?;
    let w: u32 = w.parse().map_err(|_| "width is not a number")?;
    let h: u32 = h.parse().map_err(|_| "height is not a number")?;
    if !(64..=4096).contains(&w) || !(64..=4096).contains(&h) {
        return Err("width and height must be 64..=4096".into());
    }
    Ok(Size::new(w, h))
}

/// An invoice link of the form MobilePay Invoice hands out, for the invoice screens.
const DEMO_INVOICE_LINK: &str = "https://sandprod-open.mobilepay.dk/usersettings-landing-website/\
     ?token=0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e&countryCode=DK&product=Invoice";

/// An agreement link of the form MobilePay Subscriptions hands out, for the sign-up screens.
const DEMO_AGREEMENT_LINK: &str = "https://sandprod-open.mobilepay.dk/subscriptions-landing-website/\
     ?flow=agreement&id=5d3c2b1a-0f9e-4d8c-b7a6-958473625140&countryCode=DK";

fn screen_named(name: &str, amount: Minor, currency: Currency, qr: &str) -> anyhow::Result<Screen> {
    let due_date =
        chrono::Utc::now().date_naive() + chrono::Days::new(u64::from(crate::engine::DEFAULT_DUE_DAYS));
    Ok(match name {
        "closed" => Screen::Closed,
        "idle" => Screen::Idle {
            qr: Some(qr.to_string()),
        },
        "scan-to-pay" => Screen::ScanToPay {
            amount,
            currency,
            qr: qr.to_string(),
        },
        "code-loading" => Screen::ScanBackendCode {
            amount,
            currency,
            code: BackendCode::Loading,
        },
        "code-unavailable" => Screen::ScanBackendCode {
            amount,
            currency,
            code: BackendCode::Unavailable,
        },
        "checked-in" => Screen::CheckedIn {
            amount: Some((amount, currency)),
        },
        "approved" => Screen::Approved { amount, currency },
        "declined" => Screen::Declined {
            reason: Reason::RejectedByCustomer,
        },
        "cancelled" => Screen::Cancelled {
            reason: Reason::CancelledByStaff,
        },
        "refund" => Screen::Refund {
            amount,
            currency,
            done: false,
        },
        "refund-done" => Screen::Refund {
            amount,
            currency,
            done: true,
        },
        "offline" => Screen::Offline {
            hint: StaffHint::CheckNetwork,
        },
        "invoice-link" => Screen::InvoiceLink {
            amount,
            currency,
            due_date,
            link: DEMO_INVOICE_LINK.to_string(),
        },
        "invoice-pushed" => Screen::InvoicePushed {
            amount,
            currency,
            phone: "+••••••5678".to_string(),
        },
        "invoice-scheduled" => Screen::InvoiceScheduled {
            amount,
            currency,
            payment_date: Some(due_date),
        },
        "invoice-outstanding" => Screen::InvoiceOutstanding {
            amount,
            currency,
            due_date,
        },
        "signup-link" => Screen::SignUpLink {
            plan: "Brødklubben".to_string(),
            price: Some(amount),
            payments_per_year: Some(12),
            first_payment: Some(amount),
            currency,
            accept_by: Some((chrono::Local::now() + chrono::TimeDelta::minutes(5)).time()),
            link: DEMO_AGREEMENT_LINK.to_string(),
        },
        "signup-accepted" => Screen::SignUpAccepted {
            first_payment: Some((amount, currency)),
        },
        "signed-up" => Screen::SignedUp {
            plan: Some("Brødklubben".to_string()),
            first_payment: Some((amount, currency)),
        },
        "signup-ended" => Screen::SignUpEnded {
            reason: Reason::RejectedByCustomer,
        },
        other => bail!("unknown screen {other:?}"),
    })
}

const DEMO_SCREENS: [&str; 20] = [
    "closed",
    "idle",
    "scan-to-pay",
    "code-loading",
    "code-unavailable",
    "checked-in",
    "approved",
    "declined",
    "cancelled",
    "refund",
    "refund-done",
    "offline",
    "invoice-link",
    "invoice-pushed",
    "invoice-scheduled",
    "invoice-outstanding",
    "signup-link",
    "signup-accepted",
    "signed-up",
    "signup-ended",
];

/// Runs the command with `qr` as the content of the QR code: the caller makes it from
/// `--beacon` (which beacon ids exist and what their code says is the payment backend's
/// business, not the display's).
pub fn run(args: DisplayArgs, qr: &str) -> anyhow::Result<()> {
    let look = Look {
        language: args.language,
        header: args.header.clone(),
    };
    let dir = args.boards_dir.as_deref();
    match args.command {
        DisplayCommand::Boards => {
            for name in BoardProfile::names(dir)? {
                let profile = BoardProfile::load(&name, dir)?;
                println!("{name:<24} {}", profile.description);
            }
            Ok(())
        }
        DisplayCommand::Render {
            size,
            screen,
            amount,
            currency,
            out,
        } => {
            let amount = Minor::parse_major(&amount).context("--amount")?;
            let screen = screen_named(&screen, amount, currency, qr)?;
            let (picture, report) = render_picture(size, &screen, &look)?;
            let file =
                std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            picture.write_png(std::io::BufWriter::new(file))?;
            if let Some(qr) = report.qr {
                println!(
                    "QR code: {} modules at {} px per module",
                    qr.modules, qr.module_px
                );
            }
            Ok(())
        }
        DisplayCommand::Demo { board, seconds } => {
            let profile = BoardProfile::load(&board, dir)?;
            if let Some(warning) = qr_size::warning(&profile, qr, &look) {
                eprintln!("warning: {warning}");
            }
            let mut output = device::open(&profile.display)?;
            if matches!(profile.display, super::board::DisplayConfig::Terminal { .. }) {
                print!("\x1b[2J");
            }
            for name in DEMO_SCREENS {
                let screen = screen_named(name, Minor(14_995), Currency::DKK, qr)?;
                output.show(&screen, &look)?;
                if !matches!(profile.display, super::board::DisplayConfig::Terminal { .. }) {
                    let text: Vec<String> = Content::of(&screen, args.language)
                        .lines
                        .into_iter()
                        .map(|l| l.text)
                        .collect();
                    println!("{name}: {}", text.join(" / "));
                }
                std::thread::sleep(Duration::from_secs(seconds));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_screen_names_parse() {
        assert_eq!(parse_size("320x240"), Ok(Size::new(320, 240)));
        assert!(parse_size("320").is_err());
        assert!(parse_size("10x10").is_err());
        for name in DEMO_SCREENS {
            let screen = screen_named(name, Minor(100), Currency::DKK, "qr content").unwrap();
            assert!(screen.kind().starts_with(name), "{name} -> {}", screen.kind());
        }
        assert!(screen_named("nope", Minor(1), Currency::DKK, "1").is_err());
    }
}
