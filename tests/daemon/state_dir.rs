//! The state directory holds the payment journal and cached access tokens: private even when
//! mposd is started by hand with a permissive umask, and a file in its place is refused with a
//! clear message, by `check-config` and by `mposd run`.

use super::support::{stops_with_exit_0, Setup, MPOSD};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Every file and directory below `dir`, `dir` included.
fn tree(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let entries = std::fs::read_dir(&out[i]).expect("read dir");
            out.extend(entries.map(|e| e.expect("entry").path()));
        }
        i += 1;
    }
    out
}

#[tokio::test]
async fn the_state_directory_and_its_files_are_private_under_a_permissive_umask() {
    let setup = Setup::new().await;
    let state = setup.dir.path().join("state");
    assert!(!state.exists(), "a fresh state directory");
    let umask_022 = ["sh", "-c", "umask 022 && exec \"$@\"", "sh"];
    let (daemon, log) = setup.spawn_daemon(&umask_022);
    log.wait_for(Duration::from_secs(60), |l| l.contains("mposd is ready"))
        .await
        .unwrap_or_else(|| panic!("mposd run did not become ready: {:?}", log.lines()));
    // A payment writes the journal and the token cache.
    setup.customers_accept(100).await;
    let (ok, messages) = setup
        .ecr(&["pay", "10.00", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    assert!(ok, "{messages:?}");
    stops_with_exit_0(daemon).await;

    let paths = tree(&state);
    assert!(paths.len() > 2, "the store wrote files: {paths:?}");
    for path in &paths {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(
            mode(path) & !wanted,
            0,
            "{} is {:o}, more open than {wanted:o}",
            path.display(),
            mode(path)
        );
    }
    assert_eq!(mode(&state), 0o700);

    // A directory left open by hand is made private again, with a warning.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (daemon, log) = setup.spawn_daemon(&umask_022);
    log.wait_for(Duration::from_secs(60), |l| l.contains("mposd is ready"))
        .await
        .unwrap_or_else(|| panic!("mposd run did not become ready: {:?}", log.lines()));
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("WARN") && l.contains("now made private")),
        "{:?}",
        log.lines()
    );
    assert_eq!(mode(&state), 0o700);
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_file_where_the_state_directory_belongs_is_refused_at_its_key() {
    let setup = Setup::new().await;
    let state = setup.dir.path().join("state");
    std::fs::write(&state, "not a directory").expect("write");
    let line = std::fs::read_to_string(&setup.config)
        .expect("config")
        .lines()
        .position(|l| l.starts_with("dir = "))
        .expect("the state.dir line")
        + 1;

    let check = tokio::process::Command::new(MPOSD)
        .arg("check-config")
        .arg(&setup.config)
        .output()
        .await
        .expect("check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!check.status.success(), "{text}");
    let problem = text
        .lines()
        .find(|l| l.contains("state.dir"))
        .unwrap_or_else(|| panic!("no state.dir problem: {text}"));
    assert!(problem.contains(&format!("line {line}:")), "{problem}");
    assert!(problem.contains("is a file, not a directory"), "{problem}");

    let run = tokio::process::Command::new(MPOSD)
        .args(["run", "--config"])
        .arg(&setup.config)
        .output();
    let run = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("mposd run exits")
        .expect("mposd run");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("state.dir") && stderr.contains("is a file, not a directory"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&state).expect("the file"),
        "not a directory",
        "the file is left alone"
    );
}
