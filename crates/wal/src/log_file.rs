//! The file under a [`crate::Wal`]: the operations a writer needs of it, and
//! how it is preallocated.
//!
//! A version-2 log is preallocated: whenever a write would run past the end
//! of the file, the writer also writes zeros after it up to a step boundary
//! (64 KiB, doubling with the file up to 4 MiB), so the fsync that follows
//! covers the new length once, and the synced appends after it overwrite
//! zeros in place. On a growing file every `fdatasync` must also write the
//! inode (its size changed); in place it writes the data alone, one request
//! fewer per synced append. The reader ends the log where the zeros begin.
//! Under [`crate::SyncPolicy::Never`] nothing is preallocated: no fsync per write
//! is paid, so there is nothing to save, and zeros written only to be
//! overwritten would cost a bulk load a second pass over its bytes.
//!
//! When the zeros do not fit (a full disk, a file-size limit), what was
//! written of them is cut off again and the writer goes on without
//! preallocating: the records fit where zeros did not, and zeros are no data.
//! (Past a file-size limit the kernel also sends `SIGXFSZ`, whose default
//! action ends the process before the write can fail: the fallback serves a
//! program that ignores that signal, and a full disk.)
//!
//! Zeros are written, not `fallocate`d: an extent allocated but unwritten
//! must be converted on its first write, and that conversion is metadata
//! the next `fdatasync` has to journal, the very cost preallocating avoids.
//! (`fallocate` is also out of reach of std without `unsafe`.)

use std::fs::File;
use std::io;

use crate::format::LogFormat;

/// The first preallocation step; later steps double with the file.
pub(crate) const MIN_PREALLOCATION: u64 = 64 * 1024;

/// The largest preallocation step.
const MAX_PREALLOCATION: u64 = 4 * 1024 * 1024;

/// Where preallocation for a log whose file is `allocated` bytes long ends,
/// when a write is to end at `end` (past `allocated`): `end` rounded up to
/// a step that is the file's length (a power of two) within the bounds.
pub(crate) fn preallocation_end(end: u64, allocated: u64) -> u64 {
    let step = allocated
        .clamp(MIN_PREALLOCATION, MAX_PREALLOCATION)
        .next_power_of_two()
        .min(MAX_PREALLOCATION);
    end.div_ceil(step) * step
}

/// Where a writer goes on: the log's format, the offset after its last
/// record (or skip marker, or header), and the LSN that record used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEnd {
    pub format: LogFormat,
    pub offset: u64,
    pub last_lsn: u64,
}

/// The file operations a [`crate::Wal`] needs, so tests can inject failures.
///
/// Both methods take `&self`: the leader of a group commit syncs while other
/// threads keep appending to the buffer. `'static`, since a log that is not
/// synced per append writes its full buffers from a thread of its own.
pub trait LogFile: Send + Sync + 'static {
    /// Writes all of `buf` at `offset` (the log's end, or past it for
    /// preallocation), growing the file when it runs past its end.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// The file's length now. A file that cannot say is never cut back
    /// after a failure (see [`LogFile::cut_back_to`]) nor preallocated.
    fn current_len(&self) -> io::Result<u64> {
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Truncates the file to `len` and makes that durable: how a poisoned
    /// writer takes back what it wrote but never made durable.
    fn cut_back_to(&self, len: u64) -> io::Result<()> {
        let _ = len;
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl LogFile for File {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn current_len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn cut_back_to(&self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_all()
    }
}

/// Writes zeros over `file[from..to]`.
pub(crate) fn write_zeros<F: LogFile>(file: &F, from: u64, to: u64) -> io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64);
        file.write_all_at(&ZEROS[..n as usize], at)?;
        at += n;
    }
    Ok(())
}
