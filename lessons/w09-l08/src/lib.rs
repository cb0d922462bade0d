//! Crash drill 2 (lesson w09-l08): the machine loses power while a WAL record
//! is being written, leaving a partial record at the end of the log.
//!
//! The store must notice (the record runs past the end of the file, or its
//! checksum does not match), skip it, and replay every complete record
//! before it. The drill drives the store under test (the reference store, or
//! a student's `--store CMD`) over the store protocol, and never parses its
//! files: it finds the sixth record's bytes by comparing the store's
//! directory before and after the sixth PUT, then builds every state a
//! power loss could leave from them.
//!
//! 1. **The lesson's task** ([`scenario`]): five operations (with an
//!    overwrite and a delete, so that "the state after the first five
//!    operations" is more than "five keys exist"), then the sixth PUT, killed
//!    with SIGKILL on its `OK` (the real crash). On a copy of the directory
//!    holding only the first [`PARTIAL_LEN`] bytes of record 6, a restarted
//!    store must answer exactly as after five operations; it then takes a new
//!    PUT that must survive another restart (a store that appends behind the
//!    torn tail loses it). A log cut to 0 bytes must recover as the empty
//!    state.
//! 2. **Every tear and every flipped bit** ([`sweep`]): record 6 torn after
//!    each of its bytes, and each single-bit flip of it, each on its own copy
//!    of the directory with the store restarted on it.
//! 3. **Damage before the last record** ([`earlier`]): one bit of record 3
//!    of the six flipped; the restarted store must stop there (the state
//!    after operations 1-2, nothing from 4-6 applied), and keep the readable
//!    records after the damage somewhere in DIR if it cuts them (a warning).
//!
//! The expected state is never written down by hand: [`model`] applies the
//! operations to a plain map, and every check compares the store with it.

pub mod earlier;
pub mod scenario;
pub mod sweep;

use std::io::Write;

use drill::session::{self, State};
use drill::{Drill, Kept, Options, Result, Steps};
use store_protocol::Request;

/// One operation of the drill, as a protocol request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub key: &'static str,
    /// `None` for a delete.
    pub value: Option<&'static str>,
}

const fn put(key: &'static str, value: &'static str) -> Operation {
    Operation {
        key,
        value: Some(value),
    }
}

const fn delete(key: &'static str) -> Operation {
    Operation { key, value: None }
}

/// The five complete operations. The third overwrites the first's key and
/// the fourth deletes the second's.
pub const FIRST_FIVE: [Operation; 5] = [
    put("user:1", "alice"),
    put("user:2", "bob"),
    put("user:1", "alicia"),
    delete("user:2"),
    put("user:3", "carol"),
];

/// The sixth operation, the one the power loss tears.
pub const SIXTH: Operation = put("user:4", "dave");

/// How much of the sixth record reaches the disk, as the lesson asks.
pub const PARTIAL_LEN: usize = 10;

impl Operation {
    /// The protocol request: `PUT user:1 alice` or `DEL user:2`.
    pub fn request(&self) -> Request {
        match self.value {
            Some(value) => session::put(self.key, value),
            None => session::del(self.key),
        }
    }
}

/// Every key the drill touches, each answering `NOT_FOUND`: the empty state.
pub fn empty_state() -> State {
    FIRST_FIVE
        .iter()
        .chain([&SIXTH])
        .map(|operation| (operation.key.to_string(), None))
        .collect()
}

/// What `GET` of every key should answer after `operations`.
pub fn model(operations: &[Operation]) -> State {
    let mut state = empty_state();
    for operation in operations {
        state.insert(
            operation.key.to_string(),
            operation.value.map(str::to_string),
        );
    }
    state
}

/// The state after all six operations.
pub fn model_six() -> State {
    model(&[FIRST_FIVE.as_slice(), &[SIXTH]].concat())
}

/// Damage `--break NAME` injects, to watch a check fail (what a disk that
/// returns other bytes than it was given does to a store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// flip one bit in operation 3's record, in the copy that holds the partial record 6
    CorruptRecord,
}

/// The drill, as [`drill::main`] runs it.
pub struct CrashMidWrite;

impl Drill for CrashMidWrite {
    type Fault = Fault;
    const NAME: &'static str = "test_crash_mid_write";
    const ABOUT: &'static str = "Crash drill 2 (w09-l08): power is lost while a WAL record is \
         written; recovery must skip the partial record and replay every complete one before it.";
    const PASSED: &'static str =
        "Crash drill 2 passed: 5 records recovered, 1 partial record skipped";
    const LESSON: &'static str = "w09-l08";
    const KEPT: &'static [Kept] = &[
        Kept {
            dir: scenario::LIVE_DIR,
            holds: "the five operations and the sixth PUT, as the SIGKILL left them",
            show: "dump",
        },
        Kept {
            dir: scenario::CRASHED_DIR,
            holds: "a copy of it, after a restart that found all six operations",
            show: "dump",
        },
        Kept {
            dir: scenario::PARTIAL_AS_BUILT_DIR,
            holds: "as built: the five records, then only the first 10 bytes of record 6 (no restart yet)",
            show: "dump --bytes",
        },
        Kept {
            dir: scenario::PARTIAL_DIR,
            holds: "after the restart on the partial record (its torn tail cut; the reference store saves the cut bytes beside the log as wal.log.broken-OFFSET) and the new PUT",
            show: "dump",
        },
        Kept {
            dir: scenario::EMPTY_AS_BUILT_DIR,
            holds: "as built: the log truncated to 0 bytes (no restart yet)",
            show: "dump",
        },
        Kept {
            dir: scenario::EMPTY_DIR,
            holds: "after the restart on the 0-byte log (a store may write to it: the reference store writes a new 24-byte header)",
            show: "dump",
        },
        Kept {
            dir: sweep::SWEEP_FAILED_AS_BUILT_DIR,
            holds: "as built, no restart yet: the first failing case of the tear and flip sweep",
            show: "dump --bytes",
        },
        Kept {
            dir: sweep::SWEEP_FAILED_DIR,
            holds: "after the restart on that case",
            show: "dump",
        },
        Kept {
            dir: earlier::CORRUPT_AS_BUILT_DIR,
            holds: "as built: all six records, one bit of record 3 flipped (no restart yet)",
            show: "dump --bytes",
        },
        Kept {
            dir: earlier::CORRUPT_DIR,
            holds: "after the restart on it (the reference store cuts records 3-6 and saves them beside the log as wal.log.broken-OFFSET)",
            show: "dump",
        },
    ];

    fn run(options: &Options<Fault>, out: &mut dyn Write) -> Result<()> {
        let mut steps = Steps::new(out, scenario::STEPS + sweep::STEPS + earlier::STEPS + 1);
        steps.title(
            "Crash drill 2: power is lost in the middle of a WAL write, leaving a partial record",
        )?;
        session::describe_store(&mut steps, &options.store)?;
        let crashed = scenario::run(options, &mut steps)?;
        sweep::run(options, &crashed, &mut steps)?;
        earlier::run(options, &crashed, &mut steps)?;
        drill::powerloss::check_step(&mut steps, &options.store, &options.dir, options.keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_applies_overwrite_and_delete_in_order() {
        let state = model(&FIRST_FIVE);
        assert_eq!(
            session::show_state(&state),
            "{user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=NOT_FOUND}"
        );
        assert_eq!(
            session::show_state(&model_six()),
            "{user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=dave}"
        );
    }
}
