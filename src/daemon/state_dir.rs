//! The state directory holds the payment journal and cached MobilePay access tokens, so only
//! mposd's own user may read it, also when mposd is started by hand outside systemd (where no
//! `UMask=` or `StateDirectoryMode=` applies).
//!
//! Two measures, because each covers what the other cannot: the process umask makes every file
//! the store creates private (0600) whatever the caller's umask was, and the directory itself is
//! created 0700, or tightened to 0700 with a warning when an earlier start left it open.

use anyhow::Context;
use nix::sys::stat::{umask, Mode};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Access for the owner only.
const PRIVATE_DIR: u32 = 0o700;

/// Makes every file and directory the daemon creates from now on private to its user.
pub fn private_umask() {
    umask(Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (and missing parents) with mode 0700, or tightens an existing one that group
/// or others may enter.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the state directory {}", dir.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = %format!("{mode:o}"),
            "the state directory was open to other users; it holds access tokens and is now made private (700)");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(PRIVATE_DIR)).with_context(|| {
            format!(
                "cannot make the state directory {} private (chmod 700)",
                dir.display()
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_directory_and_tightens_an_open_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/state");
        prepare(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }
}
