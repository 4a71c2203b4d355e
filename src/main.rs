use clap::{Parser, Subcommand};

// The production build (without the `sim` feature) carries the daemon and its tools only;
// `sim` and `demo` are there for developers, demos and tests.

/// mposd turns a small Linux box at a checkout into a MobilePay payment terminal.
#[derive(Parser)]
#[command(name = "mposd", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A narrated demo day: simulator, daemon, virtual cash register and customer display.
    #[cfg(feature = "sim")]
    Demo(mposd::demo::DemoArgs),
    /// Run the payment terminal daemon (normally started by systemd).
    Run(mposd::daemon::RunArgs),
    /// Check a configuration file; prints every problem with its line.
    CheckConfig(mposd::daemon::CheckConfigArgs),
    /// Run a MobilePay PoS V10 backend simulator (for demos, tests and integration work).
    #[cfg(feature = "sim")]
    Sim(mposd::sim::cli::SimArgs),
    /// A virtual cash register: drive a terminal over a serial line or TCP.
    Ecr(mposd::ecr::cli::EcrArgs),
    /// The merchant's consent for MobilePay Invoice and Subscriptions: authorize, import, show.
    Consent(mposd::consent::cli::ConsentArgs),
    /// Customer display tools: list board profiles, render screens, run a display demo.
    Display(mposd::display::cli::DisplayArgs),
}

/// What `mposd display` draws in its QR code: the PoS V10 payload of `--beacon`. The display
/// draws any content it is given; which beacon ids are valid is the backend's knowledge.
fn display_qr(beacon: &str) -> anyhow::Result<String> {
    use mposd::backends::pos_v10::formats::{is_valid_beacon_id, qr_payload};
    if !is_valid_beacon_id(beacon) {
        anyhow::bail!("--beacon must be 15 digits or a GUID");
    }
    Ok(qr_payload(beacon))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "sim")]
        Command::Demo(args) => mposd::demo::run(args),
        Command::Run(args) => mposd::daemon::run_command(args),
        Command::CheckConfig(args) => mposd::daemon::check_command(args),
        #[cfg(feature = "sim")]
        Command::Sim(args) => mposd::sim::cli::run(args),
        Command::Ecr(args) => mposd::ecr::cli::run(args),
        Command::Consent(args) => mposd::consent::cli::run(args),
        Command::Display(args) => display_qr(&args.beacon).and_then(|qr| mposd::display::cli::run(args, &qr)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mposd: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
