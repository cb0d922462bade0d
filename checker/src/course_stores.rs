//! The stores a paste must not have tested: the course's own.
//!
//! A drill run without `--store` tests the reference store (`wal::KvStore`),
//! and the course ships example stores to read and to break: the model
//! (`examples/stores/python/kvstore.py`, and its preallocating and
//! compacting variants), one broken variant per mistake
//! (`examples/stores/broken/*.py`) and the Rust starter. A transcript of any
//! of them proves nothing about the student's own store, yet passes every
//! pattern and carries a valid receipt. `checker grade` therefore reads the
//! store a verified transcript names ([`lesson::TestedStore`]) and fails
//! the paste when it is one of these, unless the instructor accepts them
//! (`--accept-course-stores`). `checker run` never asks: it knows what it ran.
//!
//! The shipped files are embedded at build time, so the checker recognises
//! them outside the workspace too (an instructor's folder of pastes), and
//! hashed once at run time. A test checks that every `.py` under
//! `examples/stores` and every Rust starter source is in [`SHIPPED`].
//! The starter's `Cargo.toml` and `Cargo.lock` are left out on purpose: a
//! student writing their store into the starter keeps them unchanged, and a
//! command like `cargo run --manifest-path starter/Cargo.toml` names them.

use std::collections::HashMap;
use std::sync::LazyLock;

use lesson::TestedStore;
use lesson::fingerprint::code_fingerprint;
use sha2::{Digest, Sha256};

/// A store file the course ships.
#[derive(Debug)]
pub struct ShippedFile {
    /// Its path in the course repository.
    pub path: &'static str,
    /// What it is, as a message names it: "the course's model store".
    pub what: &'static str,
    /// Its contents when the checker was built.
    pub bytes: &'static [u8],
}

macro_rules! shipped {
    ($what:expr, $($path:literal),+ $(,)?) => {
        [$(ShippedFile {
            path: $path,
            what: $what,
            bytes: include_bytes!(concat!("../../", $path)),
        }),+]
    };
}

const MODEL: [ShippedFile; 3] = shipped!(
    "the course's model store",
    "examples/stores/python/kvstore.py",
    "examples/stores/python/kvstore_compacting.py",
    "examples/stores/python/kvstore_preallocated.py",
);
const BROKEN: [ShippedFile; 22] = shipped!(
    "one of the course's broken example stores",
    "examples/stores/broken/appends_behind_torn_tail.py",
    "examples/stores/broken/checksum_skips_key.py",
    "examples/stores/broken/compacts_unlinking_the_old_log.py",
    "examples/stores/broken/compacts_without_dir_fsync.py",
    "examples/stores/broken/cuts_records_after_damage.py",
    "examples/stores/broken/dies_on_partial.py",
    "examples/stores/broken/discards_log_on_damage.py",
    "examples/stores/broken/no_checksum.py",
    "examples/stores/broken/no_dir_fsync.py",
    "examples/stores/broken/no_fsync.py",
    "examples/stores/broken/no_replay.py",
    "examples/stores/broken/ok_before_write.py",
    "examples/stores/broken/prealloc_allocates_claimed_length.py",
    "examples/stores/broken/prealloc_dies_of_claimed_length.py",
    "examples/stores/broken/prealloc_waits_for_claimed_length.py",
    "examples/stores/broken/prealloc_writes_after_nonzero_bytes.py",
    "examples/stores/broken/refuses_damage_before_last.py",
    "examples/stores/broken/replays_partial.py",
    "examples/stores/broken/replays_past_corrupt_record.py",
    "examples/stores/broken/rewrites_log_without_fsync.py",
    "examples/stores/broken/syncfs_of_another_filesystem.py",
    "examples/stores/broken/walput_applied.py",
);
const STARTER: [ShippedFile; 2] = shipped!(
    "the course's Rust starter, unchanged",
    "examples/stores/rust-starter/src/main.rs",
    "examples/stores/rust-starter/src/record.rs",
);

/// Every shipped store file.
pub static SHIPPED: LazyLock<Vec<&'static ShippedFile>> =
    LazyLock::new(|| MODEL.iter().chain(&BROKEN).chain(&STARTER).collect());

/// SHA-256 in hex → the shipped file with that content.
static BY_HASH: LazyLock<HashMap<String, &'static ShippedFile>> = LazyLock::new(|| {
    SHIPPED
        .iter()
        .map(|file| (hex(&Sha256::digest(file.bytes)), *file))
        .collect()
});

/// Code fingerprint (see [`lesson::fingerprint`]) → the shipped file with
/// that code: a copy whose only changes are comments or blank space.
static BY_CODE: LazyLock<HashMap<String, &'static ShippedFile>> = LazyLock::new(|| {
    SHIPPED
        .iter()
        .filter_map(|file| Some((code_fingerprint(file.path, file.bytes)?, *file)))
        .collect()
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Why a paste whose verified transcripts tested `stores` proves nothing
/// about the student's own store; `None` when every store is theirs. A
/// store is the course's when the drill ran without `--store`, when a
/// program that served the protocol holds the reference store (a wrapper
/// that execs `wal serve` or a drill's `--serve`), or when a file its
/// command names is a shipped store file, byte for byte or but for
/// comments and blank space.
pub fn problem(stores: &[TestedStore]) -> Option<String> {
    stores.iter().find_map(|store| {
        if store.is_reference() {
            return Some(format!(
                "tested the reference store, not yours (line {}): run the drill with \
                 --store \"YOUR STORE\" (README: For students: test your own store)",
                store.line
            ));
        }
        if let Some(served) = store.served_by.iter().find(|served| served.reference) {
            return Some(format!(
                "the store that answered the drill was the reference store, not yours \
                 (line {}: served by {}): a --store command that starts the course's store \
                 tests the course's store",
                served.line, served.text
            ));
        }
        store.files.iter().find_map(|file| {
            if let Some(shipped) = BY_HASH.get(&file.sha256) {
                return Some(format!(
                    "tested {}, {}, not your own (line {}: {})",
                    shipped.path, shipped.what, file.line, file.path
                ));
            }
            let shipped = BY_CODE.get(file.code.as_ref()?)?;
            Some(format!(
                "tested a copy of {}, {}, with only comments or blank space changed, not your \
                 own (line {}: {})",
                shipped.path, shipped.what, file.line, file.path
            ))
        })
    })
}

/// The course store `bytes` (a file named `path`) is a copy of, byte for
/// byte or but for comments and blank space: a whole store (the model or a
/// broken example), not a part of the Rust starter, which a student's own
/// store keeps.
pub fn whole_store_copied(path: &str, bytes: &[u8]) -> Option<(&'static ShippedFile, bool)> {
    let whole = |file: &&&'static ShippedFile| !STARTER.iter().any(|s| s.path == file.path);
    if let Some(file) = BY_HASH.get(&hex(&Sha256::digest(bytes))).filter(whole) {
        return Some((file, true));
    }
    let file = BY_CODE.get(&code_fingerprint(path, bytes)?).filter(whole)?;
    Some((file, false))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Every `.py` under `examples/stores` and every starter source, found
    /// on disk: a new example store cannot be forgotten.
    #[test]
    fn every_shipped_store_file_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.join("examples/stores")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(&root).unwrap().to_str().unwrap();
                if path.is_dir() {
                    if !relative.ends_with("/target") {
                        folders.push(path);
                    }
                } else if relative.ends_with(".py")
                    || (relative.contains("rust-starter/src/") && relative.ends_with(".rs"))
                {
                    on_disk.push(relative.replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<&str> = SHIPPED.iter().map(|file| file.path).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        assert!(on_disk.len() >= 12, "{on_disk:?}");
        // Distinct contents, so a hash names one file; and distinct code.
        assert_eq!(BY_HASH.len(), SHIPPED.len());
        assert_eq!(BY_CODE.len(), SHIPPED.len());
    }
}
