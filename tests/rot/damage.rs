//! The damage the rot torture does to the daemon's store between two lives: bit flips,
//! truncations and zeroed tails of its files, now and then a file lost whole.

use crate::ledger::Tally;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use std::path::{Path, PathBuf};

/// The ways a file is damaged; a file can also be lost whole (less often).
const KINDS: [&str; 3] = ["bit flips", "truncated", "zeroed tail"];
const REMOVED: &str = "removed";

/// Every file of the store in `state` and the files kept beside it.
pub fn store_files(state: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&state.join("store"), &mut found);
    for beside in ["store.installation", "store.doubt"] {
        let path = state.join(beside);
        if path.exists() {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The file's name as the summary counts it: `snap.*` and `blobs/*` together.
fn file_label(state: &Path, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("snap.") {
        "snap.*".into()
    } else if path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|p| p == "blobs")
    {
        "blobs/*".into()
    } else {
        path.strip_prefix(state)
            .unwrap_or(path)
            .to_string_lossy()
            .replace("store/", "")
    }
}

/// A position in a file of `len` bytes: anywhere, or (as often) in its last 64 KiB, where the
/// latest writes of an append-only log are.
fn position(rng: &mut StdRng, len: u64) -> u64 {
    if rng.gen_bool(0.5) {
        rng.gen_range(0..len)
    } else {
        rng.gen_range(len.saturating_sub(64 << 10)..len)
    }
}

/// Damages 1–3 random files of the store (or none); returns what was done.
pub fn damage(state: &Path, rng: &mut StdRng, tally: &mut Tally) -> Vec<String> {
    if rng.gen_bool(0.25) {
        tally.undamaged_restarts += 1;
        return Vec::new();
    }
    let files: Vec<PathBuf> = store_files(state)
        .into_iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect();
    let count = rng.gen_range(1..=3).min(files.len());
    let mut done = Vec::new();
    for path in files.choose_multiple(rng, count) {
        let label = file_label(state, path);
        if rng.gen_bool(0.1) {
            std::fs::remove_file(path).expect("remove a store file");
            *tally.damage.entry((label.clone(), REMOVED)).or_default() += 1;
            done.push(format!("{label}: {REMOVED}"));
            continue;
        }
        let mut bytes = std::fs::read(path).expect("read a store file");
        let len = bytes.len() as u64;
        let kind = KINDS[rng.gen_range(0..KINDS.len())];
        let what = match kind {
            "bit flips" => {
                let flips = rng.gen_range(1..=8);
                for _ in 0..flips {
                    let at = position(rng, len) as usize;
                    bytes[at] ^= 1 << rng.gen_range(0..8);
                }
                format!("{flips} bit flips")
            }
            "truncated" => {
                let to = position(rng, len);
                bytes.truncate(to as usize);
                format!("truncated from {len} to {to} bytes")
            }
            _ => {
                let from = position(rng, len);
                bytes[from as usize..].fill(0);
                format!("zeroed from byte {from} of {len}")
            }
        };
        std::fs::write(path, &bytes).expect("write a store file");
        *tally.damage.entry((label.clone(), kind)).or_default() += 1;
        done.push(format!("{label}: {what}"));
    }
    done
}
