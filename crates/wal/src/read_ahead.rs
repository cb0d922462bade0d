//! Reading a log's file ahead of the reader, on a second thread.
//!
//! Reading a large log spends its time in two places of about equal size:
//! the kernel copying the file out of the page cache (`read`), and the
//! reader checking each record's checksum. Done by one thread they add up;
//! here a helper thread reads the next chunks of the file while the reader
//! checks the last one, so on a machine with a core to spare they overlap.
//!
//! The chunks change hands whole, never copied: the helper reads each one
//! into a buffer after some free space (the *headroom*), and the reader, when
//! it needs more bytes, copies the few bytes of the record it was in the
//! middle of into the end of that headroom and takes the buffer as its own,
//! giving its old one back to be filled again. Only a record larger than the
//! headroom is joined by copying.
//!
//! The helper reads with `pread` through its own handle on the file, so the
//! reader's handle keeps its position, and it reads exactly the bytes the
//! reader was told the file holds. It is stopped and joined when the reader
//! is done with it: its handle shares the writer's lock, which must not
//! outlive the writer.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::awake_wait::AwakeWait;

/// Sizes of the chunks and of the room kept in front of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunking {
    /// Bytes read per chunk.
    pub(crate) chunk: usize,
    /// Free bytes before each chunk, for the start of a record that the
    /// chunk finishes.
    pub(crate) headroom: usize,
    /// Buffers in circulation: one with the reader, the rest read ahead.
    pub(crate) buffers: usize,
    /// Fewer bytes than this to read are read without a helper.
    pub(crate) worth_it: u64,
}

impl Chunking {
    /// What a log's reader uses: chunks the size of the reader's own reads,
    /// room for any record but a huge one, two chunks read ahead, and a
    /// helper only for a log of 1 MiB or more (starting a thread costs tens
    /// of microseconds; reading 1 MiB about a hundred).
    pub(crate) const DEFAULT: Chunking = Chunking {
        chunk: 256 * 1024,
        headroom: 64 * 1024,
        buffers: 3,
        worth_it: 1024 * 1024,
    };

    fn buffer_len(self) -> usize {
        self.headroom + self.chunk
    }
}

/// A chunk read ahead: its bytes are `buf[headroom..headroom + len]`.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

/// The reader's side of a helper thread reading a file from one offset to
/// another.
pub(crate) struct ReadAhead {
    chunking: Chunking,
    filled: Option<Receiver<io::Result<Chunk>>>,
    free: Option<Sender<Vec<u8>>>,
    helper: Option<JoinHandle<()>>,
    /// How the reader waits for a chunk, when it is the faster one.
    waiting: AwakeWait,
}

impl ReadAhead {
    /// Starts reading `file` from `from` up to `to`. The helper reads through
    /// a duplicate of the handle; if one cannot be made, there is no helper
    /// and the caller reads on its own.
    pub(crate) fn start(file: &File, from: u64, to: u64, chunking: Chunking) -> Option<ReadAhead> {
        let file = file.try_clone().ok()?;
        let (free, free_rx) = channel::<Vec<u8>>();
        let (filled_tx, filled) = channel();
        for _ in 0..chunking.buffers.max(2) - 1 {
            free.send(Vec::new()).expect("the receiver is here");
        }
        let helper = std::thread::Builder::new()
            .name("wal-read-ahead".into())
            .spawn(move || read_chunks(&file, from, to, chunking, &free_rx, &filled_tx))
            .ok()?;
        Some(ReadAhead {
            chunking,
            filled: Some(filled),
            free: Some(free),
            helper: Some(helper),
            waiting: AwakeWait::new(),
        })
    }

    /// Makes `buf[*start..*end]`, the bytes the reader holds, at least
    /// `need` long by taking the next chunks. `need` never exceeds the bytes
    /// left to read. The bytes held move in front of each chunk taken (into
    /// its headroom), or, when more are held than fit there, the chunk's
    /// bytes are copied after them.
    pub(crate) fn fill(
        &mut self,
        buf: &mut Vec<u8>,
        start: &mut usize,
        end: &mut usize,
        need: usize,
    ) -> io::Result<()> {
        let headroom = self.chunking.headroom;
        while *end - *start < need {
            let Chunk {
                buf: mut incoming,
                len,
            } = self.next_chunk()?;
            let held = *end - *start;
            if held <= headroom {
                incoming[headroom - held..headroom].copy_from_slice(&buf[*start..*end]);
                self.give_back(std::mem::replace(buf, incoming));
                *start = headroom - held;
                *end = headroom + len;
            } else {
                buf.copy_within(*start..*end, 0);
                buf.truncate(held);
                buf.extend_from_slice(&incoming[headroom..headroom + len]);
                *start = 0;
                *end = buf.len();
                self.give_back(incoming);
            }
        }
        Ok(())
    }

    /// The next chunk of the file, waiting for the helper if it is not read
    /// yet. Asking past the end is an error (`UnexpectedEof`), as a read
    /// would be.
    fn next_chunk(&mut self) -> io::Result<Chunk> {
        let filled = self.filled.as_ref().expect("receiving until dropped");
        match self.waiting.recv(filled) {
            Some(chunk) => chunk,
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    /// Hands a buffer back to be filled again. A buffer of another size
    /// (one grown for a large record) is not kept: the helper gets an empty
    /// one to size.
    fn give_back(&mut self, buf: Vec<u8>) {
        let buf = if buf.len() == self.chunking.buffer_len() {
            buf
        } else {
            Vec::new()
        };
        // The helper is gone once it has read everything: nothing to do.
        let _ = self.free.as_ref().expect("sending until dropped").send(buf);
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing both channels wakes the helper wherever it waits; it ends
        // after at most the one read it may be in.
        self.free = None;
        self.filled = None;
        if let Some(helper) = self.helper.take() {
            let _ = helper.join();
        }
    }
}

/// The helper's loop: a free buffer in, a filled chunk out, in file order,
/// until `to` or until the reader goes away. A read error goes to the reader
/// in place of the chunk and ends the loop.
fn read_chunks(
    file: &File,
    mut at: u64,
    to: u64,
    chunking: Chunking,
    free: &Receiver<Vec<u8>>,
    filled: &Sender<io::Result<Chunk>>,
) {
    let mut waiting = AwakeWait::new();
    while at < to {
        let Some(mut buf) = waiting.recv(free) else {
            return;
        };
        if buf.len() != chunking.buffer_len() {
            buf = vec![0; chunking.buffer_len()];
        }
        let len = (to - at).min(chunking.chunk as u64) as usize;
        let read = file.read_exact_at(&mut buf[chunking.headroom..chunking.headroom + len], at);
        let failed = read.is_err();
        if filled.send(read.map(|()| Chunk { buf, len })).is_err() || failed {
            return;
        }
        at += len as u64;
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::Path;

    use proptest::prelude::*;

    use super::Chunking;
    use crate::{Entry, Op, Summary, SyncPolicy, Wal, WalReader};

    /// What a log is built from: single records and batches, by key and
    /// value length.
    #[derive(Debug, Clone)]
    enum Write {
        Record(usize, usize),
        Batch(Vec<(usize, usize)>),
    }

    fn build_log(path: &Path, writes: &[Write], policy: SyncPolicy) {
        let wal = Wal::create(path, policy).unwrap();
        let bytes = |len: usize, salt: usize| -> Vec<u8> {
            (0..len).map(|i| (i * 31 + salt) as u8).collect()
        };
        for (n, write) in writes.iter().enumerate() {
            match write {
                Write::Record(key, value) => {
                    wal.append(Op::Put, &bytes(*key, n), &bytes(*value, n + 1))
                        .unwrap();
                }
                Write::Batch(records) => {
                    let owned: Vec<_> = records
                        .iter()
                        .map(|&(key, value)| (bytes(key, n), bytes(value, n + 1)))
                        .collect();
                    wal.append_batch(
                        owned
                            .iter()
                            .map(|(key, value)| (Op::Put, &key[..], &value[..])),
                    )
                    .unwrap();
                }
            }
        }
        wal.sync().unwrap();
    }

    /// Every record and the summary, read by one thread or with a helper
    /// cutting the file into `chunking`'s chunks.
    fn read(path: &Path, chunking: Option<Chunking>) -> (Vec<Entry>, Summary, bool) {
        let mut reader = WalReader::new(File::open(path).unwrap(), len(path), path).unwrap();
        if let Some(chunking) = chunking {
            let helper = File::open(path).unwrap();
            reader.read_ahead_through(&helper, chunking);
        }
        let helped = reader.has_read_ahead();
        let entries = reader.by_ref().collect::<crate::Result<Vec<_>>>().unwrap();
        (entries, reader.finish().unwrap(), helped)
    }

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    fn write_strategy() -> impl Strategy<Value = Write> {
        let record = (0usize..40, 0usize..300);
        prop_oneof![
            4 => record.clone().prop_map(|(key, value)| Write::Record(key.max(1), value)),
            1 => prop::collection::vec(record, 1..5).prop_map(|records| {
                Write::Batch(records.into_iter().map(|(k, v)| (k.max(1), v)).collect())
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Chunks of any size, with any headroom (none, or less than a
        /// record), any number of buffers: the same records, offsets and
        /// ending as reading alone, for whole logs, damaged ones, torn ones
        /// and preallocated ones.
        #[test]
        fn a_helper_changes_nothing_that_is_read(
            writes in prop::collection::vec(write_strategy(), 0..40),
            chunk in 1usize..600,
            headroom in 0usize..200,
            buffers in 2usize..5,
            // Where (per mille of the records' bytes) a byte is flipped or
            // the file cut, if at all.
            flip in prop::option::of(0u64..1000),
            cut in prop::option::of(0u64..1000),
            synced in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("wal.log");
            let policy = if synced { SyncPolicy::Always } else { SyncPolicy::Never };
            build_log(&path, &writes, policy);
            let (_, whole, _) = read(&path, None);
            let data = whole.valid_len;
            let mut bytes = std::fs::read(&path).unwrap();
            if let Some(at) = flip {
                let at = 24 + (data - 24) * at / 1000;
                if at < data {
                    bytes[at as usize] ^= 0x40;
                }
            }
            if let Some(at) = cut {
                bytes.truncate((24 + (data - 24) * at / 1000) as usize);
            }
            std::fs::write(&path, &bytes).unwrap();
            let chunking = Chunking { chunk, headroom, buffers, worth_it: 0 };
            let (alone, alone_summary, _) = read(&path, None);
            let (helped, helped_summary, used) = read(&path, Some(chunking));
            prop_assert!(used || bytes.len() <= 24, "no helper was started");
            prop_assert_eq!(&helped, &alone);
            prop_assert_eq!(helped_summary, alone_summary);
        }
    }

    #[test]
    fn a_small_log_is_read_without_a_helper() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        build_log(&path, &vec![Write::Record(8, 1000); 100], SyncPolicy::Never);
        let reader = WalReader::open(&path).unwrap();
        assert!(!reader.has_read_ahead());
        build_log(
            &dir.path().join("big.log"),
            &vec![Write::Record(8, 1000); 1100],
            SyncPolicy::Never,
        );
        let reader = WalReader::open(dir.path().join("big.log")).unwrap();
        assert!(reader.has_read_ahead());
    }

    /// A file that shrinks under the reader fails the read, as a read of
    /// the missing bytes would, naming the file, instead of hanging or
    /// ending the log early.
    #[test]
    fn a_failed_read_ahead_is_the_readers_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        build_log(
            &path,
            &vec![Write::Record(8, 1000); 4000],
            SyncPolicy::Never,
        );
        let mut reader = WalReader::open(&path).unwrap();
        assert!(reader.has_read_ahead());
        // The helper holds at most three chunks (768 KiB) before the
        // reader takes one, so it reads past the cut.
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1024 * 1024)
            .unwrap();
        let err = reader
            .by_ref()
            .find_map(|entry| entry.err())
            .expect("an error");
        match err {
            crate::Error::Io {
                path: named,
                source,
            } => {
                assert_eq!(named, path);
                assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof);
            }
            other => panic!("not a read error: {other}"),
        }
    }
}
