//! What a student's folder holds, for a class run: its fingerprint, and
//! whether it carries a copy of one of the course's own stores.
//!
//! **The fingerprint decides whether a remembered result still stands**, so
//! it covers everything in the folder that the build or the store could run:
//! every entry, `.git`, build outputs and hidden folders included, each by
//! its path, its kind, for files the executable bit and the bytes, for links
//! the target they name (never followed: a link to `/proc/self/pagemap` is
//! a path, not 256 GiB to read). It is taken after the build, so the build's
//! own outputs are part of the state a rerun compares against. The walk is
//! bounded ([`MAX_ENTRIES`] entries of any kind, [`MAX_BYTES`] bytes
//! actually read): a folder beyond either is that student's error, found
//! before the whole walk is done.
//!
//! **A copy of a course store anywhere in the folder** (the model or a broken
//! example, byte for byte or but for comments and blank space) fails the
//! student: a loader that imports `vendor/kvstore.py` names only itself on
//! its command line, so the drill's own check of the files a command names
//! cannot see it.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::course_stores;

/// The most entries (files, folders, links, anything) a folder may hold.
pub const MAX_ENTRIES: usize = 100_000;
/// The most bytes of files a folder may hold (a release build of a Rust
/// store with a few dependencies is well under it).
pub const MAX_BYTES: u64 = 2 << 30;
/// Files up to this size are also compared with the course's stores.
const COMPARED_UP_TO: u64 = 256 * 1024;

/// What a student's folder holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// SHA-256 over every entry, in hex.
    pub fingerprint: String,
    /// Why the folder is not the student's own store: it holds a course
    /// store (the first found, by path).
    pub course_copy: Option<String>,
}

/// Survey `folder`; `Err` says why it cannot be (too large, unreadable).
pub fn survey(folder: &Path) -> Result<Survey, String> {
    survey_within(folder, MAX_ENTRIES, MAX_BYTES)
}

/// [`survey`] with the bounds given.
fn survey_within(folder: &Path, max_entries: usize, max_bytes: u64) -> Result<Survey, String> {
    let too_large = || {
        format!(
            "the student's folder holds more than {max_entries} entries or {} MiB of files: too large to grade",
            max_bytes >> 20
        )
    };
    let mut entries: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        let listing = fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        for entry in listing {
            let entry = entry.map_err(|error| format!("{}: {error}", dir.display()))?;
            let path = entry.path();
            let meta = fs::symlink_metadata(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            if meta.is_dir() {
                pending.push(path.clone());
            }
            entries.push((path, meta));
            if entries.len() > max_entries {
                return Err(too_large());
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    let mut budget = max_bytes;
    let mut course_copy = None;
    for (path, meta) in &entries {
        let relative = path.strip_prefix(folder).unwrap_or(path);
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update([0]);
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(path).map_err(|error| error.to_string())?;
            hasher.update(b"l");
            hasher.update(target.as_os_str().as_encoded_bytes());
        } else if kind.is_dir() {
            hasher.update(b"d");
        } else if kind.is_file() {
            hasher.update(if meta.permissions().mode() & 0o111 != 0 {
                b"x"
            } else {
                b"f"
            });
            let file =
                fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
            // Read no more than the budget allows, whatever the size says.
            let mut limited = file.take(budget + 1);
            let mut contents = Vec::new();
            let read = if meta.len() <= COMPARED_UP_TO {
                let read = limited
                    .read_to_end(&mut contents)
                    .map_err(|e| e.to_string())?;
                hasher.update(&contents);
                read as u64
            } else {
                io::copy(&mut limited, &mut hasher).map_err(|e| e.to_string())?
            };
            budget = budget.checked_sub(read).ok_or_else(too_large)?;
            if course_copy.is_none()
                && !contents.is_empty()
                && let Some((shipped, exact)) =
                    course_stores::whole_store_copied(&relative.to_string_lossy(), &contents)
            {
                course_copy = Some(format!(
                    "the student's folder holds {}, {} {}, {}: a class run grades the student's own store",
                    crate::report::printable(&relative.to_string_lossy()),
                    if exact {
                        "a copy of"
                    } else {
                        "a copy (but for comments and blank space) of"
                    },
                    shipped.path,
                    shipped.what,
                ));
            }
        } else {
            // A FIFO, socket or device: its name and kind, never opened.
            hasher.update(b"o");
        }
        hasher.update([0]);
    }
    Ok(Survey {
        fingerprint: hex(&hasher.finalize()),
        course_copy,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kv.py"), "print('mine')\n").unwrap();
        dir
    }

    #[test]
    fn every_entry_counts_build_folders_and_modes_included() {
        let dir = folder();
        let first = survey(dir.path()).unwrap().fingerprint;
        assert_eq!(survey(dir.path()).unwrap().fingerprint, first);
        // A store hidden in a build folder, an empty folder, a mode, a link:
        // each changes the fingerprint.
        let mut seen = vec![first];
        let steps: [&dyn Fn(&Path); 4] = [
            &|d| {
                fs::create_dir_all(d.join("node_modules")).unwrap();
                fs::write(d.join("node_modules/kv.py"), "x").unwrap();
            },
            &|d| fs::create_dir(d.join("empty")).unwrap(),
            &|d| fs::set_permissions(d.join("kv.py"), fs::Permissions::from_mode(0o755)).unwrap(),
            &|d| std::os::unix::fs::symlink("/proc/self/pagemap", d.join("notes.txt")).unwrap(),
        ];
        for step in steps {
            step(dir.path());
            let now = survey(dir.path()).unwrap().fingerprint;
            assert!(!seen.contains(&now), "unchanged after a step");
            seen.push(now);
        }
    }

    #[test]
    fn a_link_is_its_target_never_followed() {
        let dir = folder();
        // Followed, this would read without end; named, it costs nothing.
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        std::os::unix::fs::symlink("/proc/self/pagemap", dir.path().join("pagemap")).unwrap();
        assert!(survey(dir.path()).is_ok());
    }

    #[test]
    fn too_many_entries_or_bytes_is_an_error() {
        let dir = folder();
        // Empty folders count as entries too.
        for index in 0..50 {
            fs::create_dir(dir.path().join(format!("d{index}"))).unwrap();
        }
        assert!(survey_within(dir.path(), 51, MAX_BYTES).is_ok());
        let error = survey_within(dir.path(), 50, MAX_BYTES).unwrap_err();
        assert!(error.contains("too large to grade"), "{error}");
        // Bytes are counted as read: 14 bytes of kv.py.
        assert!(survey_within(dir.path(), 100, 14).is_ok());
        assert!(survey_within(dir.path(), 100, 13).is_err());
    }

    #[test]
    fn a_course_store_anywhere_in_the_folder_is_named() {
        let dir = folder();
        assert_eq!(survey(dir.path()).unwrap().course_copy, None);
        let model = include_str!("../../examples/stores/python/kvstore.py");
        fs::create_dir(dir.path().join("vendor")).unwrap();
        fs::write(
            dir.path().join("vendor/store.py"),
            format!("# mine, honest\n{model}"),
        )
        .unwrap();
        let copy = survey(dir.path())
            .unwrap()
            .course_copy
            .expect("the model is found");
        assert!(
            copy.contains("examples/stores/python/kvstore.py") && copy.contains("vendor/store.py"),
            "{copy}"
        );
    }
}
