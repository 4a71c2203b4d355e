//! `mposd check-config`: a good file passes, a bad one lists every problem with its line.

use super::support::{write_private, Setup, MPOSD};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn check(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(MPOSD)
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn a_good_file_passes() {
    let setup = Setup::new().await;
    let (ok, text) = check(&setup.config);
    assert!(ok, "{text}");
    assert!(text.contains("OK (1 lane"), "{text}");
}

#[test]
fn the_shipped_example_is_valid_apart_from_hardware_that_is_not_here() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mposd.toml");
    let (ok, text) = check(std::path::Path::new(example));
    assert!(ok, "{text}");
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        format!(
            r#"[mobilepay]
environment = "custom"
auth_url = "http://mobilepay.example/integrator-authentication"
api_url = "https://mobilepay.example/pos/v10"
client_id = "x"
client_secret = {{ file = "{}" }}

[[lane]]
name = "till 1"
[lane.pos]
vat = "DK-1234"
store = {{ id = "not-a-guid" }}
merchant_pos_id = "till-1"
name = "Kasse 1"
beacon = "generated"
supported_beacon_types = ["QR"]
[lane.ecr]
tcp = {{ listen = "127.0.0.1:7410" }}
[lane.display]
board = "no-such-board"
header = "Kasse 1"
"#,
            secret.display()
        ),
    )
    .expect("write config");
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    for (line, what) in [
        (2, "mobilepay.environment"),
        (6, "chmod 600"),
        (9, "lane[0].name"),
        (11, "lane[0].pos.vat: must be DK or FI"),
        (12, "lane[0].pos.store.id: must be a GUID"),
        (
            20,
            "lane[0].display.board: unknown board profile \"no-such-board\"",
        ),
    ] {
        let wanted = format!("line {line}:");
        assert!(
            text.lines().any(|l| l.contains(&wanted) && l.contains(what)),
            "expected {what:?} on line {line}:\n{text}"
        );
    }
    assert!(text.contains("6 problems"), "{text}");
}

#[tokio::test]
async fn a_good_epayment_file_passes() {
    let setup = Setup::epayment().await;
    let (ok, text) = check(&setup.config);
    assert!(ok, "{text}");
    assert!(text.contains("OK (1 lane"), "{text}");
}

#[test]
fn every_epayment_problem_is_reported_on_its_keys_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = dir.path().join("open-key");
    std::fs::write(&open, "k").expect("write");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let private = dir.path().join("key");
    write_private(&private, "k");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        format!(
            r#"[[epayment]]
msn = "12a"
environment = "production"
base_url = "https://api.vipps.no"
client_id = {{ file = "{private}" }}
client_secret = {{ file = "{open}" }}
subscription_key = {{ file = "{missing}" }}
qr_image_size = 50

[[epayment]]
msn = "123456"
environment = "custom"
base_url = "http://api.example"
client_id = {{ file = "{private}" }}
client_secret = {{ file = "{private}" }}
subscription_key = {{ file = "{private}" }}

[[lane]]
name = "till-1"
msn = "654321"
[lane.ecr]
tcp = {{ listen = "127.0.0.1:7410" }}

[[lane]]
name = "till-2"
[lane.pos]
vat = "DK12345678"
store = {{ id = "401b5617-ae5e-4f1a-9a59-5a446dbb3caa" }}
merchant_pos_id = "till-2"
name = "Kasse 2"
beacon = "generated"
supported_beacon_types = ["QR"]
[lane.ecr]
tcp = {{ listen = "127.0.0.1:7411" }}
"#,
            private = private.display(),
            open = open.display(),
            missing = dir.path().join("missing").display(),
        ),
    )
    .expect("write config");
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    for (line, what) in [
        (2, "epayment[0].msn"),
        (
            3,
            "epayment[0].environment: base_url is only used with environment = \"custom\"",
        ),
        (6, "chmod 600"),
        (7, "epayment[0].subscription_key"),
        (8, "epayment[0].qr_image_size"),
        (13, "epayment[1].base_url"),
        (20, "lane[0].msn: no [[epayment]] section has msn = \"654321\""),
        (26, "lane[1].pos: a PoS V10 lane needs the [mobilepay] section"),
    ] {
        let wanted = format!("line {line}:");
        assert!(
            text.lines().any(|l| l.contains(&wanted) && l.contains(what)),
            "expected {what:?} on line {line}:\n{text}"
        );
    }
    assert!(text.contains("8 problems"), "{text}");
}

#[test]
fn syntax_errors_name_their_line_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[state]\ncache_mib = 8\nflavour = \"vanilla\"\n").expect("write");
    let (ok, text) = check(&path);
    assert!(
        !ok && text.contains("line 3") && text.contains("flavour"),
        "{text}"
    );
    write_private(&path, "[state\n");
    let (ok, text) = check(&path);
    assert!(!ok && text.contains("line 1"), "{text}");
    let (ok, text) = check(&dir.path().join("missing.toml"));
    assert!(!ok && text.contains("cannot read"), "{text}");
}

#[tokio::test]
async fn a_panel_too_small_for_a_scannable_qr_code_is_reported() {
    let setup = Setup::new().await;
    let text = std::fs::read_to_string(&setup.config).expect("read config");
    let small = text
        .lines()
        .map(|l| {
            if l.starts_with("board = ") {
                "board = \"pi-zero2w-st7789-1.3\""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&setup.config, small).expect("write config");
    let (ok, text) = check(&setup.config);
    assert!(ok, "{text}");
    // Sized for the payload of a generated beacon id (a GUID), whatever the lane has now.
    let profile = mposd::display::board::BoardProfile::load("pi-zero2w-st7789-1.3", None).expect("profile");
    let look = mposd::display::Look {
        language: mposd::display::Language::Da,
        header: "Bageriet - Kasse 1".into(),
    };
    let guid = mposd::backends::pos_v10::formats::qr_payload("00000000-0000-4000-8000-000000000000");
    let side = mposd::display::qr_size::side_mm(&profile, &guid, &look).expect("a QR size");
    let expected =
        format!("board profile pi-zero2w-st7789-1.3: the MobilePay QR code will be only {side:.1} mm");
    assert!(text.contains(&expected), "{expected}\n{text}");
}

#[tokio::test]
async fn webhook_problems_are_reported_with_their_lines() {
    let (setup, _) = Setup::epayment_with_webhooks().await;
    let text = std::fs::read_to_string(&setup.config).expect("config");
    let text: Vec<String> = text
        .lines()
        .map(|l| match l {
            l if l.starts_with("listen = \"127.0.0.1:") && !l.contains('{') => {
                "listen = \"127.0.0.1:0\"".to_string()
            }
            l if l.starts_with("url = \"http://127.0.0.1:") => {
                "url = \"http://hooks.shop.example/x\"".to_string()
            }
            l => l.to_string(),
        })
        .collect();
    let line_of = |prefix: &str| 1 + text.iter().position(|l| l.starts_with(prefix)).expect(prefix);
    let (listen, url) = (
        line_of("listen = \"127.0.0.1:0\""),
        line_of("url = \"http://hooks"),
    );
    write_private(&setup.config, &text.join("\n"));
    let (ok, out) = check(&setup.config);
    assert!(!ok, "{out}");
    for (line, what) in [
        (listen, "epayment[0].webhooks.listen"),
        (url, "epayment[0].webhooks.url"),
    ] {
        let wanted = format!("line {line}:");
        assert!(
            out.lines().any(|l| l.contains(&wanted) && l.contains(what)),
            "expected {what:?} on line {line}:\n{out}"
        );
    }
}

#[test]
fn a_lane_that_takes_invoices_needs_a_consent_with_the_invoice_scope_and_the_gateway_pair() {
    let dir = tempfile::tempdir().expect("temp dir");
    let private = dir.path().join("secret");
    write_private(&private, "s");
    let open = dir.path().join("open-secret");
    std::fs::write(&open, "s").expect("write");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let path = dir.path().join("invoice.toml");
    let write = |lanes: &str, consents: &str| {
        std::fs::write(&path, format!("{lanes}{consents}")).expect("write config");
    };
    let lanes = r#"[[epayment]]
msn = "123456"
environment = "test"
client_id = { credential = "a" }
client_secret = { credential = "b" }
subscription_key = { credential = "c" }

[[lane]]
name = "till-1"
msn = "123456"
invoice = { merchant = "DK12345678" }
[lane.ecr]
tcp = { listen = "127.0.0.1:7410" }

[[lane]]
name = "till-2"
msn = "123456"
invoice = { merchant = "DK87654321", issuer = "0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c" }
[lane.ecr]
tcp = { listen = "127.0.0.1:7411" }
"#;
    let consent = |extra: &str| {
        format!(
            "\n[[consent]]\nvat = \"DK12345678\"\nenvironment = \"sandbox\"\nclient_id = \"c\"\n\
             client_secret = {{ file = \"{}\" }}\nrotation = \"reuse\"\n{extra}",
            private.display()
        )
    };
    write(lanes, &consent("scopes = [\"subscriptions\"]\n"));
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    for (line, what) in [
        (18, "lane[1].invoice.merchant: no [[consent]] section has vat = \"DK87654321\""),
        (22, "consent[0]: lane \"till-1\" takes invoices for DK12345678: set gateway_client_id and gateway_client_secret"),
        (28, "consent[0].scopes: lane \"till-1\" takes invoices for DK12345678: the consent needs the scope \"invoice\""),
    ] {
        let wanted = format!("line {line}:");
        assert!(
            text.lines().any(|l| l.contains(&wanted) && l.contains(what)),
            "expected {what:?} on line {line}:\n{text}"
        );
    }
    assert!(text.contains("3 problems"), "{text}");

    let gateway = |secret: &std::path::Path| {
        format!(
            "scopes = [\"invoice\"]\ngateway_client_id = \"app\"\ngateway_client_secret = {{ file = \"{}\" }}\n",
            secret.display()
        )
    };
    let one_lane = &lanes[..lanes.find("\n[[lane]]\nname = \"till-2\"").expect("second lane") + 1];
    write(one_lane, &consent(&gateway(&open)));
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    assert!(
        text.lines().any(|l| l.contains("line 24:")
            && l.contains("consent[0].gateway_client_secret")
            && l.contains("chmod 600")),
        "{text}"
    );
    write(one_lane, &consent(&gateway(&private)));
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
}

#[test]
fn a_lane_that_signs_customers_up_needs_https_pages_and_a_consent_with_the_subscriptions_scope() {
    let dir = tempfile::tempdir().expect("temp dir");
    let private = dir.path().join("secret");
    write_private(&private, "s");
    let path = dir.path().join("signup.toml");
    let config = |pages: &str, scopes: &str| {
        format!(
            r#"[[epayment]]
msn = "123456"
environment = "test"
client_id = {{ credential = "a" }}
client_secret = {{ credential = "b" }}
subscription_key = {{ credential = "c" }}

[[lane]]
name = "till-1"
msn = "123456"
signup = {{ merchant = "DK12345678", {pages} }}
[lane.ecr]
tcp = {{ listen = "127.0.0.1:7410" }}

[[consent]]
vat = "DK12345678"
environment = "sandbox"
client_id = "c"
client_secret = {{ file = "{secret}" }}
rotation = "reuse"
scopes = [{scopes}]
gateway_client_id = "app"
gateway_client_secret = {{ file = "{secret}" }}
"#,
            secret = private.display()
        )
    };
    let pages = r#"user_redirect = "https://bageriet.example/velkommen", success_callback = "https://integrator.example/ok", cancel_callback = "https://integrator.example/cancel""#;
    std::fs::write(
        &path,
        config(
            &pages.replace("https://bageriet", "http://bageriet"),
            "\"invoice\"",
        ),
    )
    .expect("write");
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    assert!(
        text.lines().any(|l| l.contains("line 11:")
            && l.contains("lane[0].signup.links")
            && l.contains("user_redirect")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("consent[0].scopes")
            && l.contains("takes sign-ups for DK12345678")
            && l.contains("\"subscriptions\"")),
        "{text}"
    );
    std::fs::write(&path, config(pages, "\"subscriptions\"")).expect("write");
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
}
