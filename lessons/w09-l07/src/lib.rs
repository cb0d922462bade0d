//! Crash drill 1 (lesson w09-l07): the process dies after a PUT reached the
//! WAL and was fsync'd, but before the in-memory map was updated.
//!
//! The WAL, not memory, is the source of truth: a store restarting on the
//! same directory must find the PUT and hold the key with its exact value.
//! The drill drives the store under test (the reference store, or a
//! student's `--store CMD`) over the store protocol and shows it twice:
//!
//! 1. **Simulated crash**, the lesson's task: `WALPUT` appends the record
//!    without applying it (the lesson's "bypass the normal put path"), `GET`
//!    on the same process must not see it, `CRASH` exits at once (`_exit(1)`),
//!    and a restarted store must answer `GET` with the value.
//! 2. **Real crash**: another `WALPUT`, and SIGKILL the moment its `OK`
//!    arrives; the restarted store must hold both keys.
//!
//! The binary's `main` is [`drill::main`]; this crate holds the scenario, so
//! that tests can run it with a [`Fault`] injected.

use std::io::Write;
use std::path::Path;

use drill::files::DirState;
use drill::files::FileChange;
use drill::process::Running;
use drill::session::{self, expect_get, walput};
use drill::{Doing, Drill, Kept, Options, Result, Steps, expect_because};

/// The key and value of the simulated crash, as the lesson names them.
pub const KEY: &str = "test_key";
pub const VALUE: &str = "test_value";
/// The key and value of the real crash.
pub const CRASH_KEY: &str = "crash_key";
pub const CRASH_VALUE: &str = "written_before_SIGKILL";

/// The store's directory inside the drill's own.
pub const STORE_DIR: &str = "store";
/// A copy of it as the SIGKILL left it.
pub const KILLED_DIR: &str = "killed-after-walput";

/// Steps the drill prints (the last is the power-loss check).
pub const STEPS: usize = 7;

const NO_REPLAY: &str = "the store does not rebuild its map from the WAL on start: \
     replay every record of the log before printing READY";

/// Damage `--break NAME` injects, to watch a check fail (what a disk that
/// returns other bytes than it was given does to a store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// flip one bit in the record the first WALPUT wrote, after the CRASH and before the restart
    CorruptRecord,
    /// flip one bit in the record the second WALPUT wrote, after the SIGKILL and before the restart
    CorruptCrashedRecord,
}

/// The drill, as [`drill::main`] runs it.
pub struct CrashAfterWal;

impl Drill for CrashAfterWal {
    type Fault = Fault;
    const NAME: &'static str = "test_crash_after_wal";
    const ABOUT: &'static str = "Crash drill 1 (w09-l07): a PUT is fsync'd to the WAL but never \
         applied to memory, then the process crashes; recovery must bring the PUT back.";
    const PASSED: &'static str = "Crash drill 1 passed: data recovered from WAL";
    const LESSON: &'static str = "w09-l07";
    const KEPT: &'static [Kept] = &[
        Kept {
            dir: KILLED_DIR,
            holds: "as the SIGKILL left it: both WALPUT records, before the last restart",
            show: "dump",
        },
        Kept {
            dir: STORE_DIR,
            holds: "the store's directory after the last restart",
            show: "dump",
        },
    ];

    fn run(options: &Options<Fault>, out: &mut dyn Write) -> Result<()> {
        let mut steps = Steps::new(out, STEPS);
        steps.title(
            "Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply",
        )?;
        session::describe_store(&mut steps, &options.store)?;
        let dir = options.dir.join(STORE_DIR);
        std::fs::create_dir(&dir).doing(format!("create {}", dir.display()))?;
        let store = simulated_crash(options, &dir, &mut steps)?;
        real_crash(options, store, &dir, &mut steps)?;
        drill::powerloss::check_step(&mut steps, &options.store, &options.dir, options.keep)
    }
}

/// Steps 1 to 4: WALPUT, GET on the same process, CRASH, restart, GET.
/// Returns the restarted store, still running.
fn simulated_crash(options: &Options<Fault>, dir: &Path, steps: &mut Steps<'_>) -> Result<Running> {
    let mut store = session::start(
        steps,
        &options.store,
        dir,
        format_args!("started the store on an empty directory {}", dir.display()),
    )?;

    let changes = write_unapplied(&mut store, KEY, VALUE, steps)?;
    expect_get(
        steps,
        &mut store,
        KEY,
        None,
        "on the running store after the WALPUT",
        "the store applied a WALPUT to its in-memory map: WALPUT must only append to the WAL \
         (the lesson's wal_writer_.append), so that the crash finds the record in the log and \
         not in memory",
    )?;
    steps.ok(format_args!(
        "GET {KEY} -> NOT_FOUND on the running store: the in-memory map was not updated"
    ))?;

    let ended = store.crash()?;
    steps.step(format_args!(
        "simulated crash: CRASH -> the store exited at once ({}), before the PUT reached its map",
        ended.status
    ))?;
    session::show_stderr(steps, &ended.stderr)?;
    if options.fault == Some(Fault::CorruptRecord) {
        corrupt(steps, dir, &changes)?;
    }

    let mut store = session::start(
        steps,
        &options.store,
        dir,
        "restart: a new store process (empty map) recovering from the same directory",
    )?;
    expect_get(
        steps,
        &mut store,
        KEY,
        Some(VALUE),
        "after the restart",
        NO_REPLAY,
    )?;
    steps.ok(format_args!(
        "GET {KEY} -> VALUE {VALUE}: the PUT was recovered from the WAL"
    ))?;
    Ok(store)
}

/// Steps 5 and 6: WALPUT on the restarted store, SIGKILL on its OK,
/// restart, both keys back.
fn real_crash(
    options: &Options<Fault>,
    store: Running,
    dir: &Path,
    steps: &mut Steps<'_>,
) -> Result<()> {
    let request = walput(CRASH_KEY, CRASH_VALUE);
    let pid = store.pid();
    let (ended, changes) = store.kill_after_ok(&request)?;
    expect_because(
        &format!("SIGKILL of the store (PID {pid}) after the OK to {request}"),
        ended.killed_by_sigkill(),
        "death by signal 9 (SIGKILL)",
        ended.status,
        "the store must still be running after its reply; it should exit only at the end of its input or on CRASH",
    )?;
    steps.step(format_args!(
        "real crash: {request} -> OK, then SIGKILL to the store (PID {pid}) at once ({})",
        ended.status
    ))?;
    show_changes(steps, &changes)?;
    session::show_stderr(steps, &ended.stderr)?;
    expect_written(&request, &changes)?;
    DirState::read(dir)?.write_to(&options.dir.join(KILLED_DIR))?;
    if options.fault == Some(Fault::CorruptCrashedRecord) {
        corrupt(steps, dir, &changes)?;
    }

    let mut store = session::start(
        steps,
        &options.store,
        dir,
        "restart after the real crash: a new store process recovering from the same directory",
    )?;
    expect_get(
        steps,
        &mut store,
        CRASH_KEY,
        Some(CRASH_VALUE),
        "after SIGKILL and restart",
        NO_REPLAY,
    )?;
    steps.ok(format_args!(
        "GET {CRASH_KEY} -> VALUE {CRASH_VALUE}: the acknowledged WALPUT survived SIGKILL"
    ))?;
    expect_get(
        steps,
        &mut store,
        KEY,
        Some(VALUE),
        "after the second restart",
        "a record recovered once was lost later: recovery must never drop records it replayed before",
    )?;
    steps.ok(format_args!("GET {KEY} -> VALUE {VALUE}: still there"))?;
    store.close().map(drop)
}

/// `WALPUT key value`, which must be `OK` and must have reached a file by
/// then; prints the step and returns what it changed on disk.
fn write_unapplied(
    store: &mut Running,
    key: &str,
    value: &str,
    steps: &mut Steps<'_>,
) -> Result<Vec<FileChange>> {
    let request = walput(key, value);
    let changes = store.expect_ok(&request)?;
    steps.step(format_args!(
        "{request} -> OK: the PUT went to the WAL only (the lesson's bypass of put), not to the in-memory map"
    ))?;
    show_changes(steps, &changes)?;
    session::show_stderr(steps, &store.new_stderr())?;
    expect_written(&request, &changes)?;
    Ok(changes)
}

/// A write that changed no file before its `OK` was acknowledged before it
/// was written.
fn expect_written(request: &impl std::fmt::Display, changes: &[FileChange]) -> Result<()> {
    expect_because(
        &format!("the store's files when {request} was acknowledged"),
        !changes.is_empty(),
        "the record written to the WAL file",
        "no file changed",
        "the store replied OK before writing the record (it is still in a memory buffer): \
         write the record to the log and fsync it before replying OK",
    )
}

fn show_changes(steps: &mut Steps<'_>, changes: &[FileChange]) -> Result<()> {
    for change in changes {
        steps.note(format_args!("on disk: {change}"))?;
    }
    Ok(())
}

/// Flips one bit in the middle of the bytes a write changed: the injected
/// fault that recovery must not paper over.
fn corrupt(steps: &mut Steps<'_>, dir: &Path, changes: &[FileChange]) -> Result<()> {
    let Some(change) = changes.iter().find(|change| change.after.is_some()) else {
        return Ok(());
    };
    let Some(offset) = change.middle_changed_byte() else {
        return Ok(());
    };
    let offset = offset as u64;
    let path = dir.join(&change.path);
    drill::flip_bit(&path, offset, 0)?;
    steps.note(format_args!(
        "fault injected: flipped bit 0 of byte {offset} of {} (inside the record just written)",
        change.path.display()
    ))
}
