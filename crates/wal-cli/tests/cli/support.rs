//! Building logs in known states, and running `wal` on them.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;
use wal::{Entry, KvStore, WalReader};

/// A `wal` command ready to run.
pub fn wal() -> Command {
    assert_cmd::cargo::cargo_bin_cmd!("wal")
}

/// A temporary directory holding one log path (which may not exist yet).
pub struct Scratch {
    pub dir: TempDir,
    pub path: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.wal");
        Scratch { dir, path }
    }

    /// A log holding these puts, in order (LSN 1, 2, ...), and nothing
    /// after them: the space the writer preallocated is cut off, so that
    /// the file ends where the log does (as a log of an older build, or one
    /// whose preallocation was never made durable, does).
    pub fn with_puts(puts: &[(&str, &str)]) -> Scratch {
        let scratch = Scratch::new();
        let store = KvStore::create(&scratch.path).expect("create log");
        for (key, value) in puts {
            store.put(key, value).expect("put");
        }
        let end = store.wal().end_offset();
        drop(store);
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&scratch.path)
            .unwrap();
        file.set_len(end).unwrap();
        scratch
    }

    /// The format of this scratch's log, from its header.
    pub fn format(&self) -> wal::LogFormat {
        WalReader::open(&self.path)
            .expect("open log")
            .format()
            .expect("a whole header")
    }

    /// A log of three puts plus a fourth cut short by `missing` bytes: a
    /// torn tail with nothing readable behind it.
    pub fn torn(missing: u64) -> Scratch {
        let scratch = Scratch::with_puts(&FOUR_PUTS);
        let len = fs::metadata(&scratch.path).unwrap().len();
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&scratch.path)
            .unwrap();
        file.set_len(len - missing).unwrap();
        scratch
    }

    /// A log of four puts whose second record has a flipped payload byte:
    /// a checksum mismatch with two readable records behind it.
    pub fn corrupt_mid_log() -> Scratch {
        let scratch = Scratch::with_puts(&FOUR_PUTS);
        let second = &scratch.entries()[1];
        let mut bytes = scratch.bytes();
        let last_byte = (second.offset + second.len - 1) as usize;
        bytes[last_byte] ^= 0x01;
        fs::write(&scratch.path, bytes).unwrap();
        scratch
    }

    /// `wal SUBCOMMAND FILE REST...` on this log, ready to run.
    pub fn wal(&self, subcommand: &str, rest: &[&str]) -> Command {
        let mut command = wal();
        command.arg(subcommand).arg(&self.path).args(rest);
        command
    }

    pub fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).expect("read log")
    }

    /// The readable records, read in-process with the library.
    pub fn entries(&self) -> Vec<Entry> {
        WalReader::open(&self.path)
            .expect("open log")
            .collect::<Result<_, _>>()
            .expect("read log")
    }

    /// Names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn broken_file(&self, offset: u64) -> PathBuf {
        self.dir.path().join(format!("test.wal.broken-{offset}"))
    }

    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// The records of [`Scratch::torn`] and [`Scratch::corrupt_mid_log`].
pub const FOUR_PUTS: [(&str, &str); 4] = [
    ("apple", "red"),
    ("banana", "yellow"),
    ("cherry", "dark red"),
    ("damson", "purple"),
];

/// Offset and length of the damage in a log (from the library's reader).
pub fn damage_of(path: &Path) -> wal::Damage {
    WalReader::open(path)
        .unwrap()
        .finish()
        .unwrap()
        .damage
        .expect("the log is damaged")
}

/// Space-separated lower-case hex, as `--bytes` shows a field.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
