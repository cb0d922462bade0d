//! Which programs answered the drill.
//!
//! The lines naming the store say what the `--store` command named; a
//! wrapper script can name itself and then `exec` something else, such as
//! the reference store (`wal serve`, a drill's own `--serve`). So once the
//! store is `READY`, the drill reads the executable of the store's process
//! and of every process it started (Linux: `/proc/PID/exe`) and names each
//! in the transcript, inside the receipt: `served by: /usr/bin/python3.11`,
//! or `served by: the reference store (PATH)` for a program that holds the
//! reference store (it carries [`store_protocol::REFERENCE_MARK`]). Graders
//! read these lines back with `lesson::tested`.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use lesson::tested;

use crate::tree;

/// At most this many programs are named.
const MAX_PROGRAMS: usize = 4;

/// An executable larger than this is not searched for the mark.
const MAX_SEARCHED: u64 = 2 << 30;

/// At most this many files given to the store's processes are named.
const MAX_FILES: usize = 8;

/// The served-by lines for the store whose process is `pid`, then the
/// files its processes were given on their command lines (`ran file:`):
/// what a wrapper (`sh -c 'exec python3 kvstore.py'`) really ran.
pub fn lines(pid: u32) -> Vec<String> {
    let mut programs: Vec<PathBuf> = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for process in std::iter::once(pid).chain(tree::descendants(pid)) {
        if let Ok(exe) = std::fs::read_link(format!("/proc/{process}/exe"))
            && !programs.contains(&exe)
            && programs.len() < MAX_PROGRAMS
        {
            programs.push(exe);
        }
        for file in given_files(process) {
            if !files.contains(&file) && files.len() < MAX_FILES {
                files.push(file);
            }
        }
    }
    let served = programs
        .iter()
        .map(|exe| tested::served_by_line(&crate::escape::path(exe), holds_reference_store(exe)));
    let ran = files.iter().filter_map(|file| {
        let sha256 = crate::store::sha256_hex(file).ok()?;
        let code = crate::store::code_of(file);
        Some(tested::ran_file_line(
            &sha256,
            code.as_deref(),
            &crate::escape::path(file),
        ))
    });
    served.chain(ran).collect()
}

/// The regular files named by the arguments of process `pid` (its program
/// left out), relative ones found from its working folder.
fn given_files(pid: u32) -> Vec<PathBuf> {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
    cmdline
        .split(|&byte| byte == 0)
        .skip(1)
        .take(64)
        .filter(|word| !word.is_empty() && !word.starts_with(b"-"))
        .filter_map(|word| {
            let word = Path::new(std::str::from_utf8(word).ok()?);
            let path = if word.is_absolute() {
                word.to_owned()
            } else {
                cwd.join(word)
            };
            std::fs::metadata(&path)
                .is_ok_and(|meta| meta.is_file())
                .then_some(path)
        })
        .collect()
}

/// Whether the executable at `path` holds the reference store: its bytes
/// contain the mark. Read as a stream, each program once per drill run.
pub fn holds_reference_store(path: &Path) -> bool {
    static SEEN: LazyLock<Mutex<HashMap<PathBuf, bool>>> = LazyLock::new(Mutex::default);
    if let Some(&known) = SEEN.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
        return known;
    }
    let found = search(path, store_protocol::REFERENCE_MARK.as_bytes()).unwrap_or(false);
    SEEN.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_owned(), found);
    found
}

/// Whether `needle` occurs in the file at `path`, read in chunks that
/// overlap by the needle's length.
fn search(path: &Path, needle: &[u8]) -> std::io::Result<bool> {
    let file = File::open(path)?;
    if file.metadata()?.len() > MAX_SEARCHED {
        return Ok(false);
    }
    let finder = regex::bytes::Regex::new(&regex::escape(
        std::str::from_utf8(needle).unwrap_or_default(),
    ))
    .map_err(std::io::Error::other)?;
    let mut reader = file.take(MAX_SEARCHED);
    let mut buffer = vec![0; 1 << 20];
    let mut kept = 0;
    loop {
        let read = reader.read(&mut buffer[kept..])?;
        if read == 0 {
            return Ok(false);
        }
        let filled = kept + read;
        if finder.is_match(&buffer[..filled]) {
            return Ok(true);
        }
        kept = needle.len().min(filled);
        buffer.copy_within(filled - kept..filled, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_found_across_chunks_and_not_where_it_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mark = store_protocol::REFERENCE_MARK.as_bytes();
        for at in [0, 100, (1 << 20) - 5, (1 << 20) + 3] {
            let mut bytes = vec![b'x'; (1 << 20) * 2];
            bytes[at..at + mark.len()].copy_from_slice(mark);
            let path = dir.path().join(format!("with-{at}"));
            std::fs::write(&path, &bytes).unwrap();
            assert!(search(&path, mark).unwrap(), "at {at}");
        }
        let without = dir.path().join("without");
        std::fs::write(&without, vec![b'x'; 3 << 20]).unwrap();
        assert!(!search(&without, mark).unwrap());
        // This test binary holds the drill crate, so the reference store.
        assert!(holds_reference_store(&std::env::current_exe().unwrap()));
    }
}
