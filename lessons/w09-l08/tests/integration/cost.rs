//! What recovery cost: a start on a damaged log that holds far more memory,
//! or takes far more time, than the same store's start on an empty
//! directory is named; a start killed near the memory limit is told it ran
//! out of memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use drill::confine::{Confinement, Limits};
use drill::cost::StartCost;
use drill::process::Running;
use drill::testing::{python, python_store, verdict_line};
use drill::{Error, Store};
use w09_l08::CrashMidWrite;

use crate::binary;

/// The preallocating model store with one mistake: the first time a
/// record's header claims more than 1 MiB, it allocates (and zeroes) up to
/// 200 MiB before checking the claim. Once only, so that the start stays
/// fast and passes: the drill must name the cost, not time out.
const ALLOCATES_ONCE: &str = r#"
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvstore_preallocated as base

class AllocatesOnce(base.PreallocatedKVStore):
    once = False

    def check_at(self, data, offset):
        if not self.once and offset + base.HEADER.size <= len(data):
            _, claimed, _ = base.HEADER.unpack_from(data, offset)
            buffer = bytearray(min(claimed, 200 << 20))
            del buffer
            self.once = claimed > 1 << 20
        return super().check_at(data, offset)

if __name__ == "__main__":
    sys.exit(base.main(sys.argv, AllocatesOnce))
"#;

#[test]
fn a_recovery_that_allocates_a_claimed_length_is_named_with_its_cost() {
    let Some(python) = python() else {
        return;
    };
    // The store and the model it imports, in a folder of their own: a
    // confined store reads the files beside the script its command names.
    let dir = tempfile::tempdir().unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stores/python");
    for model in ["kvstore.py", "kvstore_preallocated.py"] {
        std::fs::copy(models.join(model), dir.path().join(model)).unwrap();
    }
    let script = dir.path().join("allocates_once.py");
    std::fs::write(&script, ALLOCATES_ONCE).unwrap();
    // Quoted for the command line (neither path holds a quote).
    let store = format!("'{python}' '{}'", script.display());
    let stdout = binary().passes_against(&store);
    let warning = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("warning: recovery of a "))
        .unwrap_or_else(|| panic!("no cost named:\n{stdout}"));
    for part in [
        "-byte log took 2",
        " MiB of memory (bit ",
        "; an empty start: ",
        "the store allocates what a damaged length field claims before checking that the bytes exist",
    ] {
        assert!(warning.contains(part), "{part:?} missing: {warning}");
    }
}

#[test]
fn a_recovery_that_waits_for_a_claimed_length_is_named_with_its_time() {
    let Some(store) = python_store("broken/prealloc_waits_for_claimed_length.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    let warning = stdout
        .lines()
        .find(|line| line.contains("s to READY ("))
        .unwrap_or_else(|| panic!("no slow recovery named:\n{stdout}"));
    for part in [
        "warning: recovery of a ",
        "-byte log took ",
        // The slowest cases wait 5 s: bits 6 and 7 of the length's top byte.
        "of byte 7 of record 6 (offset ",
        "; an empty start: ",
        " ms, the median start of this sweep: ",
        "the store's recovery reads, waits for or allocates far more than the log holds",
    ] {
        assert!(warning.contains(part), "{part:?} missing: {warning}");
    }
    // Said once, by the time check alone: the waiting store holds no memory.
    assert!(!stdout.contains(" of memory ("), "{stdout}");
}

#[test]
fn a_store_killed_near_the_memory_limit_is_told_it_ran_out_of_memory() {
    let Some(store) = python_store("broken/prealloc_dies_of_claimed_length.py") else {
        return;
    };
    // A lowered limit: the store reserves (never touches) 16 MiB pieces up
    // to it, and the first claim of 256 MiB or more is refused.
    let run = binary().run(&["--store", &store, "--limit-memory", "256"], 1);
    let verdict = verdict_line::<CrashMidWrite>(&run.stdout);
    for part in [
        "FAILED: bit 4 of byte 7 of record 6 (offset ",
        "found the store exited (signal: 11 (SIGSEGV)) without printing it",
        "Likely defect: recovery of 65536 bytes of files took ",
        " MiB of memory (an empty start: ",
        "near the drill's limit of 256 MiB, and then died of SIGSEGV: the store ran out of memory",
        "it allocates what a damaged length field claims before checking that the bytes exist",
    ] {
        assert!(verdict.contains(part), "{part:?} missing: {verdict}");
    }
}

/// `command` run through this drill's launcher, under a memory limit.
fn confined(command: &str, memory_mib: u64) -> Store {
    Store::from_command_line(command)
        .unwrap()
        .confined(Confinement {
            launcher: PathBuf::from(env!("CARGO_BIN_EXE_test_crash_mid_write")),
            limits: Limits {
                memory_mib,
                ..Limits::default()
            },
            store_root: None,
        })
}

/// How the start of `store` on an empty directory failed: what was found,
/// and the likely defect.
fn start_fails(store: &Store) -> (String, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let empty = StartCost {
        time: Duration::from_millis(50),
        memory: Some(8 << 20),
    };
    match Running::start_compared(store, dir.path(), Some(empty)) {
        Ok(_) => panic!("{}: started", store.command_line()),
        Err(Error::Check { found, why, .. }) => (found, why),
        Err(other) => panic!("{}: {other}", store.command_line()),
    }
}

/// A Python store that reserves `mib` MiB (never touched, so cheap), says
/// it is recovering, holds the memory a second and then does `then`.
fn reserves(python: &str, mib: u64, then: &str) -> String {
    let code = format!(
        "import mmap, os, signal, sys, time\n\
         held = mmap.mmap(-1, {mib} << 20, flags=mmap.MAP_PRIVATE)\n\
         print('replaying the log', file=sys.stderr, flush=True)\n\
         time.sleep(1)\n\
         {then}\n"
    );
    shell_words::join([python, "-c", &code])
}

#[test]
fn a_signal_death_near_the_memory_limit_is_running_out_of_memory() {
    let Some(python) = python() else {
        return;
    };
    let store = confined(
        &reserves(&python, 200, "os.kill(os.getpid(), signal.SIGKILL)"),
        256,
    );
    let (found, why) = start_fails(&store);
    assert!(found.contains("(signal: 9 (SIGKILL))"), "{found}");
    let why = why.unwrap_or_default();
    for part in [
        "recovery of 0 bytes of files took 2",
        " MiB of memory (an empty start: 8.0 MiB), near the drill's limit of 256 MiB, and then died of SIGKILL: the store ran out of memory",
    ] {
        assert!(why.contains(part), "{part:?} missing: {why}");
    }
}

#[test]
fn a_signal_death_with_little_memory_is_not_called_out_of_memory() {
    let Some(python) = python() else {
        return;
    };
    // The same death, 16 MiB reserved: far from the limit.
    let store = confined(
        &reserves(&python, 16, "os.kill(os.getpid(), signal.SIGKILL)"),
        256,
    );
    let (found, why) = start_fails(&store);
    assert!(found.contains("(signal: 9 (SIGKILL))"), "{found}");
    assert_eq!(why, None, "{found}");
}

#[test]
fn a_store_still_recovering_with_much_memory_is_told_its_figure() {
    let Some(python) = python() else {
        return;
    };
    // It never says READY: the drill waits its 10 s, then kills it.
    let store = confined(&reserves(&python, 200, "time.sleep(60)"), 1024);
    let (found, why) = start_fails(&store);
    assert!(found.contains("nothing after 10 s"), "{found}");
    let why = why.unwrap_or_default();
    for part in [
        "the store was still recovering after 10 s: its stderr shows it started",
        "Meanwhile, recovery of 0 bytes of files took 2",
        " MiB of memory (an empty start: 8.0 MiB): it most likely allocates what a damaged length field claims",
    ] {
        assert!(why.contains(part), "{part:?} missing: {why}");
    }
}
