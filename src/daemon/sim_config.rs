//! Daemon configurations against `mposd sim` and its fixture merchant and store, and starting
//! `mposd sim` itself. The demo, the daemon's end-to-end tests and its benchmarks all run the
//! real daemon on one, so it is written in one place and always matches what `check-config`
//! accepts.

use crate::sim::fixtures;
use anyhow::Context;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What `mposd sim` prints on its standard output once it listens, followed by its base URL.
pub const SIM_LISTENING: &str = "mposd sim listening on ";

/// Starts `exe sim --listen 127.0.0.1:0 ARGS`, its log going to `log`, and waits for the base
/// URL it prints. The simulator is killed when the returned child is dropped.
pub async fn spawn_simulator(exe: &Path, args: &[&str], log: Stdio) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(exe)
        .args(["sim", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the simulator")?;
    let stdout = child.stdout.take().context("simulator output")?;
    let mut lines = BufReader::new(stdout).lines();
    // Generous: a loaded single-board computer may take a while to start a process.
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix(SIM_LISTENING) {
                return Some(url.trim().to_string());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .context("the simulator did not start")?;
    // Keep draining its output so the simulator never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

/// Which of the simulator's APIs a lane takes payments through.
#[derive(Clone, Copy, Debug)]
pub enum SimBackend<'a> {
    /// PoS V10, on the fixture merchant's store, as this merchant point-of-sale id.
    PosV10 { merchant_pos_id: &'a str },
    /// ePayment, for the fixture sales unit ([`fixtures::EP_MSN`]).
    Epayment,
}

/// One checkout lane served against the simulator at `sim_url`.
pub struct SimulatorLane<'a> {
    pub sim_url: &'a str,
    pub backend: SimBackend<'a>,
    /// The `[lane.ecr]` transport line, e.g. `tcp = { listen = "127.0.0.1:7410" }`.
    pub ecr: String,
    /// A customer display drawn to a PNG file in the folder (see [`png_path`]), with this size
    /// in pixels and these extra `[lane.display]` lines (language, header, ...). `None`: no
    /// display.
    pub png_display: Option<(u32, u32, &'a str)>,
}

/// The name of the `index`th lane (from 0) in a written configuration: `till-1`, `till-2`, ...
pub fn lane_name(index: usize) -> String {
    format!("till-{}", index + 1)
}

/// Where the `index`th lane's PNG display is drawn: `display.png` for the first lane,
/// `display-till-2.png` and so on for the others.
pub fn png_path(dir: &Path, index: usize) -> PathBuf {
    match index {
        0 => dir.join("display.png"),
        _ => dir.join(format!("display-{}.png", lane_name(index))),
    }
}

impl SimulatorLane<'_> {
    /// Writes a one-lane configuration into `dir`; see [`write_lanes`].
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        write_lanes(dir, std::slice::from_ref(self))
    }
}

/// Writes the secrets (mode 0600), the displays' board profiles and an `mposd.toml` serving
/// `lanes` (named by [`lane_name`]) into `dir`; the state goes to `dir/state`. All lanes use the
/// same simulator, and its fixture merchant or sales unit. Returns the configuration's path.
pub fn write_lanes(dir: &Path, lanes: &[SimulatorLane]) -> anyhow::Result<PathBuf> {
    let Some(first) = lanes.first() else {
        anyhow::bail!("a configuration needs at least one lane");
    };
    anyhow::ensure!(
        lanes.iter().all(|lane| lane.sim_url == first.sim_url),
        "all lanes must use the same simulator"
    );
    let mut config = format!(
        "# Checkout lanes against the MobilePay simulator.\n[state]\ndir = \"{}\"\n",
        dir.join("state").display()
    );
    if lanes
        .iter()
        .any(|l| matches!(l.backend, SimBackend::PosV10 { .. }))
    {
        let secret = private_file(dir, "client-secret", fixtures::DEMO_CLIENT_SECRET)?;
        write!(
            config,
            r#"
[mobilepay]
environment = "custom"
auth_url = "{sim}/integrator-authentication"
api_url = "{sim}/pos/v10"
client_id = "{client_id}"
client_secret = {{ file = "{secret}" }}
"#,
            sim = first.sim_url,
            client_id = fixtures::DEMO_CLIENT_ID,
            secret = secret.display(),
        )?;
    }
    if lanes.iter().any(|l| matches!(l.backend, SimBackend::Epayment)) {
        let client_id = private_file(dir, "ep-client-id", fixtures::EP_CLIENT_ID)?;
        let secret = private_file(dir, "ep-client-secret", fixtures::EP_CLIENT_SECRET)?;
        let key = private_file(dir, "ep-subscription-key", fixtures::EP_SUBSCRIPTION_KEY)?;
        write!(
            config,
            r#"
[[epayment]]
msn = "{msn}"
environment = "custom"
base_url = "{sim}"
client_id = {{ file = "{client_id}" }}
client_secret = {{ file = "{secret}" }}
subscription_key = {{ file = "{key}" }}
"#,
            msn = fixtures::EP_MSN,
            sim = first.sim_url,
            client_id = client_id.display(),
            secret = secret.display(),
            key = key.display(),
        )?;
    }
    for (index, lane) in lanes.iter().enumerate() {
        let name = lane_name(index);
        let display = match lane.png_display {
            Some((width, height, extra)) => {
                let boards = dir.join("boards");
                std::fs::create_dir_all(&boards)?;
                let board = format!("png-{name}");
                std::fs::write(
                    boards.join(format!("{board}.toml")),
                    format!(
                        "name = \"{board}\"\ndescription = \"The customer display as a PNG file\"\n\
                         [display]\nkind = \"png\"\npath = \"{}\"\nwidth = {width}\nheight = {height}\n",
                        png_path(dir, index).display()
                    ),
                )?;
                format!(
                    "[lane.display]\nboard = \"{board}\"\nboards_dir = \"{}\"\n{extra}",
                    boards.display()
                )
            }
            None => String::new(),
        };
        let backend = match lane.backend {
            SimBackend::PosV10 { merchant_pos_id } => format!(
                "[lane.pos]\nvat = \"{vat}\"\nstore = {{ id = \"{store}\" }}\n\
                 merchant_pos_id = \"{merchant_pos_id}\"\nname = \"Kasse {number}\"\n\
                 beacon = \"generated\"\nsupported_beacon_types = [\"QR\"]\n",
                vat = fixtures::DK_VAT,
                store = fixtures::DK_STORE,
                number = index + 1,
            ),
            SimBackend::Epayment => format!("msn = \"{}\"\n", fixtures::EP_MSN),
        };
        write!(
            config,
            r#"
[[lane]]
name = "{name}"
currency = "DKK"
{backend}[lane.ecr]
{ecr}
{display}"#,
            ecr = lane.ecr,
        )?;
    }
    let path = dir.join("mposd.toml");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Lets the first lane of the configuration at `path` (written by [`write_lanes`] into `dir`)
/// issue invoices and sign customers up for the simulator's Danish merchant: a `[[consent]]`
/// section for the simulator's `reUse` OIDC client with the API gateway's app pair, and the
/// lane's `invoice` and `signup` settings. The consent itself still has to be put on the box
/// (`mposd consent import`).
pub fn add_merchant_products(path: &Path, dir: &Path, sim_url: &str) -> anyhow::Result<()> {
    let oidc = private_file(dir, "oidc-client-secret", fixtures::OIDC_REUSE_CLIENT_SECRET)?;
    let gateway = private_file(dir, "gateway-secret", fixtures::INVOICE_GATEWAY_CLIENT_SECRET)?;
    let config = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lane_settings = format!(
        "currency = \"DKK\"\ninvoice = {{ merchant = \"{vat}\" }}\n\
         signup = {{ merchant = \"{vat}\", user_redirect = \"https://bageriet.example/velkommen\", \
         success_callback = \"https://bageriet.example/mobilepay/ok\", \
         cancel_callback = \"https://bageriet.example/mobilepay/cancel\" }}\n",
        vat = fixtures::DK_VAT
    );
    let mut config = config.replacen("currency = \"DKK\"\n", &lane_settings, 1);
    write!(
        config,
        r#"
[[consent]]
vat = "{vat}"
environment = "custom"
authority = "{sim}/merchant-authentication-openidconnect"
api = "{sim}"
client_id = "{client_id}"
client_secret = {{ file = "{oidc}" }}
rotation = "reuse"
scopes = ["invoice", "subscriptions"]
gateway_client_id = "{gateway_id}"
gateway_client_secret = {{ file = "{gateway}" }}
"#,
        vat = fixtures::DK_VAT,
        sim = sim_url,
        client_id = fixtures::OIDC_REUSE_CLIENT_ID,
        oidc = oidc.display(),
        gateway_id = fixtures::INVOICE_GATEWAY_CLIENT_ID,
        gateway = gateway.display(),
    )?;
    std::fs::write(path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `content` to `dir/name`, readable by its owner only (the daemon refuses secret
/// files others can read).
fn private_file(dir: &Path, name: &str, content: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, content).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_configuration_passes_the_daemons_own_checks() {
        let dir = tempfile::tempdir().unwrap();
        let lane = SimulatorLane {
            sim_url: "http://127.0.0.1:9",
            backend: SimBackend::PosV10 {
                merchant_pos_id: "till-1",
            },
            ecr: "tcp = { listen = \"127.0.0.1:7410\" }".into(),
            png_display: Some((320, 240, "language = \"da\"\nheader = \"Kasse 1\"\n")),
        };
        let path = lane.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let checked = super::super::config::Config::parse(&text, &path);
        assert!(checked.is_ok(), "{checked:?}");
        let mode = std::fs::metadata(dir.path().join("client-secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn several_lanes_get_their_own_names_points_of_sale_and_displays() {
        let dir = tempfile::tempdir().unwrap();
        let lane = |pos: &'static str, port: u16| SimulatorLane {
            sim_url: "http://127.0.0.1:9",
            backend: SimBackend::PosV10 { merchant_pos_id: pos },
            ecr: format!("tcp = {{ listen = \"127.0.0.1:{port}\" }}"),
            png_display: Some((320, 240, "header = \"Kasse\"\n")),
        };
        let path = write_lanes(dir.path(), &[lane("pos-a", 7410), lane("pos-b", 7411)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let config = super::super::config::Config::parse(&text, &path).unwrap();
        let names: Vec<&str> = config.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["till-1", "till-2"]);
        let pos_ids: Vec<&str> = config
            .lanes
            .iter()
            .filter_map(|l| l.pos.as_ref().map(|p| p.merchant_pos_id.as_str()))
            .collect();
        assert_eq!(pos_ids, ["pos-a", "pos-b"]);
        for index in 0..2 {
            let board =
                std::fs::read_to_string(dir.path().join(format!("boards/png-{}.toml", lane_name(index))));
            let board = board.unwrap();
            assert!(
                board.contains(&png_path(dir.path(), index).display().to_string()),
                "{board}"
            );
        }
        assert_ne!(png_path(dir.path(), 0), png_path(dir.path(), 1));

        let other_sim = SimulatorLane {
            sim_url: "http://127.0.0.1:10",
            ..lane("pos-c", 7412)
        };
        assert!(write_lanes(dir.path(), &[lane("pos-a", 7410), other_sim]).is_err());
        assert!(write_lanes(dir.path(), &[]).is_err());
    }
}
