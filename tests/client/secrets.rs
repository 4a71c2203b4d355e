//! Secret files: refused when others can read them, used when private.

use super::support::*;
use mposd::backends::pos_v10::{Correlation, Credentials, MobilePayClient, SecretSource};
use mposd::secrets;
use std::os::unix::fs::PermissionsExt;

#[tokio::test]
async fn a_secret_file_readable_by_others_is_refused_then_works_after_chmod_600() {
    let h = Harness::start().await;
    let path = h.dir.path().join("client-secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let err = secrets::load_secret(&SecretSource::File(path.clone())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "names the file: {text}"
    );
    assert!(
        text.contains(&format!("chmod 600 {}", path.display())),
        "names the fix: {text}"
    );
    assert!(!text.contains(SECRET));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let secret = secrets::load_secret(&SecretSource::File(path)).unwrap();
    let client =
        MobilePayClient::open(h.config(), VAT, Credentials::ClientSecret(secret), h.open_db()).unwrap();
    client
        .find_pos(&Correlation::new("test"), Some("k"), None, None)
        .await
        .unwrap();
    assert_eq!(h.control.count("token").await, 1);
}

#[tokio::test]
async fn a_provisioned_token_file_readable_by_others_is_refused() {
    let h = Harness::start().await;
    let path = h.dir.path().join("token");
    std::fs::write(&path, "a.b.c").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = MobilePayClient::open(
        h.config(),
        VAT,
        Credentials::ProvisionedToken(path.clone()),
        h.open_db(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
}
