//! Criterion benches for profiling the log's hot paths: encoding a record,
//! appending (sync never; into memory, shared or exclusive, and into a
//! file) and replaying (borrowed and owned records).
//!
//! They are short on purpose (10 samples, about a second each): they are a
//! tool for comparing two versions of the code, not the published figures;
//! those come from `wal bench`, which measures against raw baselines in the
//! same run. Run one group with `cargo bench -p wal -- replay`.

use std::hint::black_box;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wal::{LogFile, Op, Record, RecoveryMode, SyncPolicy, Wal, WalReader};

/// Value sizes, as `wal bench` measures them.
const SIZES: [(usize, &str); 3] = [(32, "32B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

/// Keys are `key-NNNNNNNN`: 12 bytes.
const KEY: &[u8; 12] = b"key-00000001";

/// Size of the logs replayed.
const REPLAY_BYTES: usize = 16 * 1024 * 1024;

/// The format of the logs built in memory.
const FORMAT: wal::LogFormat = wal::LogFormat::V2 { id: 0xbe7c };

/// A log file that keeps nothing: appends measured without the kernel.
struct Sink;

impl LogFile for Sink {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        black_box((buf, offset));
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
}

fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (len, label) in SIZES {
        let record = Record {
            lsn: 1,
            op: Op::Put,
            key: KEY.to_vec(),
            value: value(len),
        };
        group.throughput(Throughput::Bytes(wal::record_len(KEY.len(), len) as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| wal::encode(black_box(&record), FORMAT))
        });
    }
    group.finish();
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    let dir = tempfile::tempdir().expect("temp dir");
    for (len, label) in SIZES {
        let value = value(len);
        group.throughput(Throughput::Bytes(wal::record_len(KEY.len(), len) as u64));
        let end = wal::LogEnd {
            format: FORMAT,
            offset: wal::FILE_HEADER_LEN as u64,
            last_lsn: 0,
        };
        let mut sink = Wal::from_file(Sink, "sink", end, SyncPolicy::Never);
        group.bench_function(BenchmarkId::new("memory", label), |b| {
            b.iter(|| sink.append(Op::Put, black_box(KEY), black_box(&value)))
        });
        group.bench_function(BenchmarkId::new("memory_exclusive", label), |b| {
            b.iter(|| sink.append_exclusive(Op::Put, black_box(KEY), black_box(&value)))
        });
        // A new file per sample, so that the file does not grow without end.
        group.bench_function(BenchmarkId::new("file", label), |b| {
            b.iter_custom(|iters| {
                let path = dir.path().join(format!("append-{label}.wal"));
                let _ = std::fs::remove_file(&path);
                let wal = Wal::create(&path, SyncPolicy::Never).expect("create");
                let start = Instant::now();
                for _ in 0..iters {
                    wal.append(Op::Put, black_box(KEY), black_box(&value))
                        .expect("append");
                }
                drop(wal);
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    let dir = tempfile::tempdir().expect("temp dir");
    for (len, label) in SIZES {
        let path = dir.path().join(format!("replay-{label}.wal"));
        let bytes = write_log(&path, len);
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(BenchmarkId::new("borrowed", label), |b| {
            b.iter(|| {
                let mut reader = WalReader::open(&path).expect("open");
                let mut payload = 0;
                while let Some(entry) = reader.next_ref().expect("read") {
                    payload += entry.record.key.len() + entry.record.value.len();
                }
                (payload, reader.finish().expect("finish"))
            })
        });
        group.bench_function(BenchmarkId::new("owned", label), |b| {
            b.iter(|| {
                wal::replay(&path, RecoveryMode::AbsoluteConsistency, |record| {
                    black_box(record);
                })
                .expect("replay")
            })
        });
    }
    group.finish();
}

/// Writes a log of about [`REPLAY_BYTES`] with values of `len` bytes.
fn write_log(path: &Path, len: usize) -> u64 {
    let wal = Wal::create(path, SyncPolicy::Never).expect("create");
    let value = value(len);
    let records = REPLAY_BYTES / wal::record_len(KEY.len(), len);
    for lsn in 1..=records {
        let key = format!("key-{lsn:08}");
        wal.append(Op::Put, key.as_bytes(), &value).expect("append");
    }
    drop(wal);
    std::fs::metadata(path).expect("metadata").len()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = encode, append, replay
}
criterion_main!(benches);
