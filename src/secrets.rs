//! Client secrets and access tokens: where they come from and how they stay out of sight.
//!
//! A secret is read either from a file the operator names or from a systemd credential
//! (`LoadCredential=NAME:...` puts it in `$CREDENTIALS_DIRECTORY/NAME`). A secret file that group
//! or others can read is refused: on a shared checkout box that is how a client secret leaks.
//! The values live in newtypes whose `Debug` and `Display` print `<redacted>`, so a secret can
//! never reach a log line, an error message or a panic by accident; code that really needs the
//! value calls `expose()`, which is easy to find in review.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

/// A client secret (or any other credential read from disk).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Arc::from(value.into()))
    }

    /// The secret itself. Only for building the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A MobilePay access token (a JWT).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn new(value: impl Into<String>) -> AccessToken {
        AccessToken(Arc::from(value.into()))
    }

    /// The token itself. Only for the `Authorization` header and the token cache.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret is kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// A file only the daemon's user may read (mode 600 or stricter).
    File(PathBuf),
    /// A systemd credential: the file `NAME` in `$CREDENTIALS_DIRECTORY`.
    Credential(String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "file {}", path.display()),
            SecretSource::Credential(name) => write!(f, "systemd credential {name:?}"),
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the secret file {path} can be read by other users (mode {mode:03o}); \
         restrict it with `chmod 600 {path}`"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("cannot read the secret file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the secret file {path} is empty")]
    Empty { path: String },
    #[error(
        "the systemd credential {name:?} is not available: $CREDENTIALS_DIRECTORY is not set \
         (add `LoadCredential={name}:/path/to/file` to the service unit)"
    )]
    NoCredentialsDirectory { name: String },
    #[error("the credential name {name:?} is not a plain file name")]
    BadCredentialName { name: String },
}

/// Reads a secret from where the configuration says it is.
///
/// Files named in the configuration must not be readable by group or others. systemd
/// credentials are exempt from that check: systemd places them on a private, non-swappable
/// file system readable only by the service, and the operator could not change their mode.
pub fn load_secret(source: &SecretSource) -> Result<Secret, SecretError> {
    load_secret_from(source, std::env::var_os("CREDENTIALS_DIRECTORY").as_deref())
}

/// [`load_secret`] with the credentials directory given (systemd passes it in the environment).
pub fn load_secret_from(
    source: &SecretSource,
    credentials_directory: Option<&std::ffi::OsStr>,
) -> Result<Secret, SecretError> {
    match source {
        SecretSource::File(path) => {
            check_private(path)?;
            read_secret_file(path)
        }
        SecretSource::Credential(name) => {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(SecretError::BadCredentialName { name: name.clone() });
            }
            let dir = credentials_directory
                .ok_or_else(|| SecretError::NoCredentialsDirectory { name: name.clone() })?;
            read_secret_file(&Path::new(dir).join(name))
        }
    }
}

/// Refuses a file that group or others may read or write.
pub fn check_private(path: &Path) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|err| SecretError::Unreadable {
        path: path.display().to_string(),
        reason: err.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::TooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// Reads the whole file; surrounding whitespace (the newline editors add) is not part of it.
fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    let text = std::fs::read_to_string(path).map_err(|err| SecretError::Unreadable {
        path: path.display().to_string(),
        reason: err.to_string(),
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(SecretError::Empty {
            path: path.display().to_string(),
        });
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn redacted_everywhere() {
        let s = Secret::new("canary-123");
        let t = AccessToken::new("eyJ.canary.token");
        for text in [format!("{s}"), format!("{s:?}"), format!("{t}"), format!("{t:?}")] {
            assert!(!text.contains("canary"), "{text}");
        }
        assert_eq!(s.expose(), "canary-123");
    }

    #[test]
    fn private_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "secret", "  s3cret\n", 0o600);
        let secret = load_secret(&SecretSource::File(path)).unwrap();
        assert_eq!(secret.expose(), "s3cret");
        let path = write(dir.path(), "ro", "x", 0o400);
        assert!(load_secret(&SecretSource::File(path)).is_ok());
    }

    #[test]
    fn group_or_world_readable_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660] {
            let path = write(dir.path(), "secret", "s3cret", mode);
            let err = load_secret(&SecretSource::File(path.clone())).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, SecretError::TooOpen { .. }), "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("chmod 600"), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn missing_and_empty_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = load_secret(&SecretSource::File(missing.clone())).unwrap_err();
        assert!(err.to_string().contains(&missing.display().to_string()));
        let empty = write(dir.path(), "empty", "\n", 0o600);
        assert!(matches!(
            load_secret(&SecretSource::File(empty)),
            Err(SecretError::Empty { .. })
        ));
    }

    #[test]
    fn systemd_credentials_are_read_from_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        // systemd makes credentials 0400 or 0440; they are not subject to the mode check.
        write(dir.path(), "mobilepay-secret", "from-systemd\n", 0o440);
        let source = SecretSource::Credential("mobilepay-secret".into());
        let secret = load_secret_from(&source, Some(dir.path().as_os_str())).unwrap();
        assert_eq!(secret.expose(), "from-systemd");
        let err = load_secret_from(&source, None).unwrap_err();
        assert!(
            err.to_string().contains("LoadCredential=mobilepay-secret"),
            "{err}"
        );
        let missing = SecretSource::Credential("other".into());
        assert!(load_secret_from(&missing, Some(dir.path().as_os_str())).is_err());
    }

    #[test]
    fn credential_names_cannot_escape_the_directory() {
        for name in ["", "../etc/passwd", "a/b", ".."] {
            assert!(matches!(
                load_secret_from(&SecretSource::Credential(name.into()), Some("/".as_ref())),
                Err(SecretError::BadCredentialName { .. })
            ));
        }
    }
}
