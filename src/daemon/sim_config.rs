//! A one-lane daemon configuration against `mposd sim` and its fixture merchant and store.
//! The demo, the daemon's end-to-end tests and its benchmark all run the real daemon on one,
//! so it is written in one place and always matches what `check-config` accepts.

use crate::sim::fixtures;
use anyhow::Context;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One checkout lane served against the simulator at `sim_url`.
pub struct SimulatorLane<'a> {
    pub sim_url: &'a str,
    pub merchant_pos_id: &'a str,
    /// The `[lane.ecr]` transport line, e.g. `tcp = { listen = "127.0.0.1:7410" }`.
    pub ecr: String,
    /// A customer display drawn to `display.png` in the folder, with this size in pixels and
    /// these extra `[lane.display]` lines (language, header, ...). `None`: no display.
    pub png_display: Option<(u32, u32, &'a str)>,
}

impl SimulatorLane<'_> {
    /// Writes the client secret (mode 0600), the display's board profile and `mposd.toml` into
    /// `dir` (the state goes to `dir/state`); returns the configuration's path.
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let secret = dir.join("client-secret");
        std::fs::write(&secret, fixtures::DEMO_CLIENT_SECRET)
            .with_context(|| format!("cannot write {}", secret.display()))?;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))?;
        let display = match self.png_display {
            Some((width, height, extra)) => {
                let boards = dir.join("boards");
                std::fs::create_dir_all(&boards)?;
                std::fs::write(
                    boards.join("png-panel.toml"),
                    format!(
                        "name = \"png-panel\"\ndescription = \"The customer display as a PNG file\"\n\
                         [display]\nkind = \"png\"\npath = \"{}\"\nwidth = {width}\nheight = {height}\n",
                        dir.join("display.png").display()
                    ),
                )?;
                format!(
                    "[lane.display]\nboard = \"png-panel\"\nboards_dir = \"{}\"\n{extra}",
                    boards.display()
                )
            }
            None => String::new(),
        };
        let config = dir.join("mposd.toml");
        std::fs::write(
            &config,
            format!(
                r#"# One lane against the MobilePay simulator.
[state]
dir = "{state}"

[mobilepay]
environment = "custom"
auth_url = "{sim}/integrator-authentication"
api_url = "{sim}/pos/v10"
client_id = "{client_id}"
client_secret = {{ file = "{secret}" }}

[[lane]]
name = "till-1"
currency = "DKK"
[lane.pos]
vat = "{vat}"
store = {{ id = "{store}" }}
merchant_pos_id = "{pos}"
name = "Kasse 1"
beacon = "generated"
supported_beacon_types = ["QR"]
[lane.ecr]
{ecr}
{display}"#,
                state = dir.join("state").display(),
                sim = self.sim_url,
                client_id = fixtures::DEMO_CLIENT_ID,
                secret = secret.display(),
                vat = fixtures::DK_VAT,
                store = fixtures::DK_STORE,
                pos = self.merchant_pos_id,
                ecr = self.ecr,
            ),
        )
        .with_context(|| format!("cannot write {}", config.display()))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_configuration_passes_the_daemons_own_checks() {
        let dir = tempfile::tempdir().unwrap();
        let lane = SimulatorLane {
            sim_url: "http://127.0.0.1:9",
            merchant_pos_id: "till-1",
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
}
