//! What the measurements share: the scratch directory, the records they
//! write, medians, and the raw operations the baselines are made of.

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use wal::{Op, SyncPolicy, Wal};

/// Block size of the raw `write` and `read` baselines.
pub const BLOCK: usize = 64 * 1024;

/// Every key is `key-NNNNNNNN`, like the keys of `wal load`.
pub const KEY_LEN: usize = 12;

/// A value size the figures are measured at.
#[derive(Debug, Clone, Copy)]
pub struct ValueSize {
    pub bytes: usize,
    /// As it appears in figure names: `32B`, `1KiB`, `64KiB`.
    pub label: &'static str,
}

pub const VALUE_SIZES: [ValueSize; 3] = [
    ValueSize {
        bytes: 32,
        label: "32B",
    },
    ValueSize {
        bytes: 1024,
        label: "1KiB",
    },
    ValueSize {
        bytes: 64 * 1024,
        label: "64KiB",
    },
];

/// The encoded size of one benchmark record with a value of `value_len`.
pub fn record_len(value_len: usize) -> u64 {
    wal::record_len(KEY_LEN, value_len) as u64
}

/// A value of `len` bytes: lower-case letters, like a text payload.
pub fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Keys `key-00000001`, `key-00000002`, ... made without allocating, so
/// the loops measure the log and not the key formatting.
pub struct Keys {
    key: [u8; KEY_LEN],
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            key: *b"key-00000000",
        }
    }

    /// The next key.
    pub fn advance(&mut self) -> &[u8; KEY_LEN] {
        for digit in self.key[4..].iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                break;
            }
        }
        &self.key
    }
}

/// A directory of the benchmark's own, removed with everything in it when
/// the benchmark ends. Created inside the directory the user names (or the
/// system temp directory), so no file of the user's is ever touched.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub fn create(parent: Option<&Path>) -> Result<ScratchDir> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!("wal-bench-{}-{nanos}", std::process::id()));
        if let Err(err) = fs::create_dir(&path) {
            bail!(
                "{}: cannot create the bench directory: {err}",
                path.display()
            );
        }
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of a file in the directory, removed first if an earlier
    /// measurement left it there.
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        let path = self.path.join(name);
        remove_if_present(&path)?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_dir_all(&self.path) {
            crate::stderr::note(format_args!(
                "wal bench: cannot remove {}: {err}",
                self.path.display()
            ));
        }
    }
}

pub fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("{}: cannot remove", path.display()))
        }
        _ => Ok(()),
    }
}

/// The median of some samples (the mean of the middle two for an even
/// count): robust against one round disturbed by the rest of the machine.
pub fn median(mut samples: Vec<f64>) -> f64 {
    assert!(!samples.is_empty(), "a median of no samples");
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    }
}

/// `count / elapsed`, per second.
pub fn per_second(count: f64, elapsed: Duration) -> f64 {
    count / elapsed.as_secs_f64()
}

/// Creates a new file for a raw baseline, opened like the log's (append).
pub fn create_raw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))
}

/// Baseline: `bytes` written to a new file at `path` in plain `write` calls
/// of [`BLOCK`] bytes, then one `sync_data` if `sync`. Times the writes, the
/// sync and the close.
pub fn raw_write(path: &Path, bytes: &[u8], sync: bool) -> Result<Duration> {
    let mut file = create_raw(path)?;
    let start = Instant::now();
    for block in bytes.chunks(BLOCK) {
        file.write_all(block)
            .with_context(|| format!("{}: write", path.display()))?;
    }
    if sync {
        file.sync_data()
            .with_context(|| format!("{}: sync_data", path.display()))?;
    }
    drop(file);
    Ok(start.elapsed())
}

/// Baseline: the file at `path` read in [`BLOCK`]-byte reads, every byte
/// through `crc32fast`. Returns the time and the number of bytes.
pub fn read_crc(path: &Path) -> Result<(Duration, u64)> {
    let start = Instant::now();
    let mut file = File::open(path).with_context(|| format!("{}: open", path.display()))?;
    let mut block = vec![0u8; BLOCK];
    let mut hasher = crc32fast::Hasher::new();
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut block)
            .with_context(|| format!("{}: read", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
        total += n as u64;
    }
    black_box(hasher.finalize());
    Ok((start.elapsed(), total))
}

/// Frees `map` (a recovered store or map of many keys), then reads `path`
/// once, untimed. Whatever runs first after a million-key map is freed runs
/// slow: reading a 133 MB log through `crc32fast` took 0.089–0.091 s right
/// after the drop, against 0.014 s just before it and just after that read
/// (measured, 5 rounds). That cost belongs to neither side of the next
/// timing, so this read takes it.
pub fn free_then_settle<T>(map: T, path: &Path) -> Result<()> {
    drop(map);
    read_crc(path)?;
    Ok(())
}

/// Writes a log of `records` puts with values of `value_len` bytes at
/// `path`, then fsyncs it once, so that no write-back runs while it is
/// measured. Returns its length.
pub fn write_log(path: &Path, value_len: usize, records: u64) -> Result<u64> {
    let wal = Wal::create(path, SyncPolicy::Never)?;
    let value = value(value_len);
    let mut keys = Keys::new();
    for _ in 0..records {
        wal.append(Op::Put, keys.advance(), &value)?;
    }
    wal.sync()?;
    drop(wal);
    Ok(fs::metadata(path)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_count_up_in_decimal() {
        let mut keys = Keys::new();
        assert_eq!(keys.advance(), b"key-00000001");
        for _ in 0..8 {
            keys.advance();
        }
        assert_eq!(keys.advance(), b"key-00000010");
        for _ in 0..89 {
            keys.advance();
        }
        assert_eq!(keys.advance(), b"key-00000100");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn scratch_dir_is_removed_with_its_files() {
        let parent = tempfile::tempdir().unwrap();
        let scratch = ScratchDir::create(Some(parent.path())).unwrap();
        let path = scratch.path().to_path_buf();
        assert!(path.starts_with(parent.path()));
        fs::write(scratch.file("x").unwrap(), b"data").unwrap();
        drop(scratch);
        assert!(!path.exists());
        assert!(parent.path().exists(), "the user's directory stays");
    }

    #[test]
    fn written_log_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.wal");
        let len = write_log(&path, 100, 50).unwrap();
        assert_eq!(len, wal::FILE_HEADER_LEN as u64 + 50 * record_len(100));
        let summary = wal::WalReader::open(&path).unwrap().finish().unwrap();
        assert_eq!((summary.records, summary.damage), (50, None));
        let (_, bytes) = read_crc(&path).unwrap();
        assert_eq!(bytes, len);
    }
}
