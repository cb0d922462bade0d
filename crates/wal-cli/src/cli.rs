//! The command line: every subcommand with its description and examples.

use clap::{Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::commands::{
    checkpoint::{self, CheckpointArgs},
    delete::{self, DeleteArgs},
    dump::{self, DumpArgs},
    get::{self, GetArgs},
    load::{self, LoadArgs},
    put::{self, PutArgs},
    repair::{self, RepairArgs},
    serve::{self, ServeArgs},
    verify::{self, VerifyArgs},
};

/// Write, inspect, verify and repair write-ahead logs of the `wal` crate.
///
/// A student's pg_waldump: `put`, `delete` and `get` use a log as a
/// key-value store; `dump` and `verify` say exactly what is on disk and where
/// it stops being readable; `repair` cuts a damaged tail off (keeping the cut
/// bytes beside the log); `load` and `bench` drive crash tests and
/// benchmarks. `dump`, `verify` and `get` never modify the file.
#[derive(Debug, Parser)]
#[command(name = "wal", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  `get`: key absent; `verify`: damage at the tail only
  2  cannot read the file, missing file, not a WAL, or a usage error
  3  damage followed by readable records (`verify`; `repair` and the
     writers refuse it, leaving the file untouched)";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append a put record and print its LSN.
    ///
    /// Opens FILE as a writer (creating it when missing), appends
    /// `KEY = VALUE`, fsyncs it and prints the record's LSN. If the log ends
    /// in a torn or damaged tail with nothing readable behind it, that tail is
    /// first saved to FILE.broken-OFFSET and cut off, and a note on stderr
    /// says so; if readable records follow the damage, nothing is written and
    /// the command exits 3 (see `wal repair --force`).
    #[command(after_help = put::EXAMPLES)]
    Put(PutArgs),

    /// Append a delete record and print its LSN.
    ///
    /// Like `put`, with a delete record for KEY. The record is written
    /// whether or not the key is present: the log records the request, and
    /// replaying it removes the key if it is there.
    #[command(after_help = delete::EXAMPLES)]
    Delete(DeleteArgs),

    /// Print the value of a key (exit 1 when absent).
    ///
    /// Replays FILE read-only, applying every readable record in LSN order,
    /// and prints KEY's value followed by a newline. Damage stops the replay
    /// at the last readable record, as point-in-time recovery would, with a
    /// warning on stderr. Exits 1, with a message on stderr, when the key is
    /// absent or was deleted.
    #[command(after_help = get::EXAMPLES)]
    Get(GetArgs),

    /// Print every record, then how the log ends.
    ///
    /// Streams FILE read-only: one row per readable record (offset, LSN, op,
    /// key, value length and a preview of the value, non-printable bytes
    /// escaped), then the verdict, after a `preallocated: ...` line when
    /// zeros a synced writer preallocated follow the log's end. With
    /// --json, one JSON document: {"records":[{"offset","lsn","op","key",
    /// "value"}],"tail":{"state","offset","bytes","preallocated","reason",
    /// "records_after"}} with full keys and values ("key_hex"/"value_hex"
    /// added when the bytes are not UTF-8; a delete's value is null). With
    /// --bytes, the file header's fields (24 bytes in format version 2,
    /// with the log id every record's checksum covers; 16 in version 1),
    /// every record's bytes in hex under the names of its fields, and a
    /// damaged or partial record's bytes with the fields they cover and
    /// what is missing. A saved tail (FILE.broken-OFFSET) is read too: its
    /// records, then its damage.
    #[command(after_help = dump::EXAMPLES)]
    Dump(DumpArgs),

    /// Check a log and print a one-line verdict.
    ///
    /// Reads FILE read-only to its end and reports whether it is clean, ends
    /// in damage that cutting would lose nothing by (a torn last write), or
    /// holds damage with readable records behind it (mid-log corruption).
    /// A clean log followed by the zeros a synced writer preallocated says
    /// where the log ends and how many zeros follow. The exit code carries
    /// the verdict, for scripts.
    #[command(after_help = verify::EXAMPLES)]
    Verify(VerifyArgs),

    /// Cut a damaged tail off, keeping the cut bytes beside the log.
    ///
    /// When FILE ends in damage with nothing readable behind it, saves the
    /// bytes from the damage on to FILE.broken-OFFSET (fsync'd), truncates
    /// the log to its readable prefix and says what it did. When readable
    /// records follow the damage it refuses, exit 3, leaving the file
    /// untouched, unless --force: then it keeps the prefix and saves the
    /// rest, those records included, to FILE.broken-OFFSET. A clean log is
    /// left alone.
    #[command(after_help = repair::EXAMPLES)]
    Repair(RepairArgs),

    /// Snapshot the store beside the log and restart the log after it.
    ///
    /// Writes FILE.snapshot atomically (temporary file, fsync, rename,
    /// directory fsync), then replaces FILE with a new log whose LSNs follow
    /// the snapshot's. Recovery, `get` and `dump` read the snapshot, then the
    /// log's later records.
    #[command(after_help = checkpoint::EXAMPLES)]
    Checkpoint(CheckpointArgs),

    /// Append generated records, printing an ack once each is durable.
    ///
    /// Appends --records puts with key `key-{LSN:08}` and a value of that
    /// key repeated and cut to --value-size bytes, so every record can be
    /// recomputed from its LSN. With --acks, `ack LSN` goes to stdout
    /// (flushed) only once the record is durable under the --sync policy;
    /// with `never`, that is after the single fsync at the end. Used by the
    /// real-crash tests and for benchmarks.
    #[command(after_help = load::EXAMPLES)]
    Load(LoadArgs),

    /// Run the reference store on DIR over the store protocol.
    ///
    /// Recovers DIR/wal.log (creating it when missing), prints `READY
    /// replayed N, skipped M`, then answers one request per line of stdin on
    /// stdout: PUT, DEL, GET, WALPUT (logged and fsync'd but not applied)
    /// and CRASH (exit 1 at once, no cleanup). Each write's LSN, offset and
    /// length go to stderr. The crash drills test this store by default;
    /// pass `--store "wal serve"` to test it as an external command.
    #[command(after_help = serve::EXAMPLES)]
    Serve(ServeArgs),

    /// Measure the log against the disk's and the CPU's own limits.
    ///
    /// Buffered appends, one fsync per record, batches, group commit across
    /// 1/4/16 threads, replay and KvStore recovery, each next to a baseline
    /// of raw operations (64 KiB writes, write + sync_data, 64 KiB reads +
    /// CRC) taken in the same run on the same disk, with their ratio. See
    /// BENCHMARKS.md.
    #[command(after_help = "Examples:\n  wal bench --quick\n  wal bench --json")]
    Bench(BenchArgs),
}
