//! The held-out set of issue 22: a C++ store written from the README and the
//! store protocol alone (`examples/stores/cpp/kvstore.cpp`), and the same
//! store with one realistic mistake compiled in (`-DMISTAKE_...`). Each
//! variant runs against the drill that must catch it, which must fail it
//! with a message naming that mistake (or, where the lesson asks only for a
//! warning, pass it with that warning); the controls run against both drills
//! and pass.
//!
//! The variants are compiled once each, a few at a time, while the drills
//! build; the drill runs go three at a time (they mostly wait on fsyncs and
//! restarts, not on the CPU). The whole set took 60-80 s on a two-core
//! machine under a load average of 15. Without `g++` the tests say so and
//! skip (under CI they fail instead).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::real::{build, root};
use wait_timeout::ChildExt;

/// The drills by binary name.
const L07: &str = "test_crash_after_wal";
const L08: &str = "test_crash_mid_write";

/// A build of the store: its name and the `-D` flags that make it.
struct Variant {
    name: &'static str,
    defines: &'static [&'static str],
}

/// What a drill must make of a variant.
enum Verdict {
    /// Exit 0, and every phrase in the transcript (a warning, say).
    Passes(&'static [&'static str]),
    /// Exit 1, and every phrase in the `FAILED` line (which holds the
    /// likely defect): what the variant did wrong, in the drill's words.
    Fails(&'static [&'static str]),
}

/// One drill run: a variant, the drill, extra drill flags, the verdict.
struct Case {
    variant: &'static str,
    drill: &'static str,
    flags: &'static [&'static str],
    verdict: Verdict,
}

/// A compaction after fewer than 7 records leaves no record 3 in place for
/// w09-l08's damage before the last record; the variants whose mistake
/// lives there (or in cutting a torn tail) compact only past the drills.
const NO_COMPACTION: &str = "-DCOMPACT_EVERY=64";

const VARIANTS: &[Variant] = &[
    Variant {
        name: "correct",
        defines: &[],
    },
    Variant {
        name: "correct_without_compaction",
        defines: &[NO_COMPACTION],
    },
    Variant {
        name: "o_dsync",
        defines: &["-DCONTROL_O_DSYNC"],
    },
    Variant {
        name: "no_scan_past_damage",
        defines: &["-DCONTROL_NO_SCAN", NO_COMPACTION],
    },
    Variant {
        name: "no_fsync",
        defines: &["-DMISTAKE_NO_FSYNC"],
    },
    Variant {
        name: "fsync_before_last_write",
        defines: &["-DMISTAKE_FSYNC_BEFORE_LAST_WRITE"],
    },
    Variant {
        name: "sync_file_range",
        defines: &["-DMISTAKE_SYNC_FILE_RANGE"],
    },
    Variant {
        name: "fsync_dir_not_file",
        defines: &["-DMISTAKE_FSYNC_DIR_NOT_FILE"],
    },
    Variant {
        name: "ofstream_flush",
        defines: &["-DMISTAKE_OFSTREAM_FLUSH"],
    },
    Variant {
        name: "ok_before_write",
        defines: &["-DMISTAKE_OK_BEFORE_WRITE"],
    },
    Variant {
        name: "no_replay",
        defines: &["-DMISTAKE_NO_REPLAY"],
    },
    Variant {
        name: "walput_applied",
        defines: &["-DMISTAKE_WALPUT_APPLIED"],
    },
    Variant {
        name: "compact_no_temp_fsync",
        defines: &["-DMISTAKE_COMPACT_NO_TEMP_FSYNC"],
    },
    Variant {
        name: "compact_no_dir_fsync",
        defines: &["-DMISTAKE_COMPACT_NO_DIR_FSYNC", "-DCOMPACT_EVERY=4"],
    },
    Variant {
        name: "replays_partial",
        defines: &["-DMISTAKE_REPLAYS_PARTIAL"],
    },
    Variant {
        name: "dies_on_partial",
        defines: &["-DMISTAKE_DIES_ON_PARTIAL"],
    },
    Variant {
        name: "no_checksum",
        defines: &["-DMISTAKE_NO_CHECKSUM"],
    },
    Variant {
        name: "checksum_skips_key",
        defines: &["-DMISTAKE_CHECKSUM_SKIPS_KEY"],
    },
    Variant {
        name: "trusts_length",
        defines: &["-DMISTAKE_TRUSTS_LENGTH", NO_COMPACTION],
    },
    Variant {
        name: "appends_behind_torn_tail",
        defines: &["-DMISTAKE_APPENDS_BEHIND_TORN_TAIL", NO_COMPACTION],
    },
    Variant {
        name: "discards_log_on_damage",
        defines: &["-DMISTAKE_DISCARDS_LOG_ON_DAMAGE"],
    },
    Variant {
        name: "skips_corrupt_continues",
        defines: &["-DMISTAKE_SKIPS_CORRUPT_CONTINUES", NO_COMPACTION],
    },
    Variant {
        name: "cuts_without_keeping",
        defines: &["-DMISTAKE_CUTS_WITHOUT_KEEPING", NO_COMPACTION],
    },
    Variant {
        name: "compacting_on_record_6",
        defines: &["-DCOMPACT_EVERY=6"],
    },
    Variant {
        name: "refuses_earlier_damage",
        defines: &["-DMISTAKE_REFUSES_EARLIER_DAMAGE", NO_COMPACTION],
    },
];

const PASSED_07: &str = "Crash drill 1 passed";
const PASSED_08: &str = "Crash drill 2 passed";
/// What w09-l08 says when a compaction moved record 3.
const NOT_IN_PLACE: &str = "damage before the last record: not tested: the record operation 3 wrote to wal.log is no longer where the store wrote it";
const STOPPED_AT_3: &str = "ok: recovery stopped at record 3";

const CASES: &[Case] = &[
    // The controls, against both drills.
    Case {
        variant: "correct",
        drill: L07,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_07, "compacted the log to 2 record(s)"]),
    },
    Case {
        variant: "correct",
        drill: L08,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_08, "compacted the log", NOT_IN_PLACE]),
    },
    Case {
        variant: "correct_without_compaction",
        drill: L07,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_07]),
    },
    Case {
        variant: "correct_without_compaction",
        drill: L08,
        flags: &[],
        verdict: Verdict::Passes(&[
            PASSED_08,
            STOPPED_AT_3,
            "3 readable record(s) after the damage, not applied",
        ]),
    },
    Case {
        variant: "o_dsync",
        drill: L07,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_07, "compacted the log to 2 record(s)"]),
    },
    Case {
        variant: "o_dsync",
        drill: L08,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_08, "compacted the log"]),
    },
    Case {
        variant: "no_scan_past_damage",
        drill: L07,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_07]),
    },
    Case {
        variant: "no_scan_past_damage",
        drill: L08,
        flags: &[],
        verdict: Verdict::Passes(&[PASSED_08, STOPPED_AT_3]),
    },
    // What makes an OK durable: the power-loss check names the call.
    Case {
        variant: "no_fsync",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "power-loss check: the OK to WALPUT test_key test_value",
            "found write to wal.log, then OK with no fsync in between.",
            "call fsync or fdatasync on the log",
        ]),
    },
    Case {
        variant: "fsync_before_last_write",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "power-loss check: the OK to WALPUT test_key test_value",
            "it fsync'd wal.log before its last write to it",
        ]),
    },
    Case {
        variant: "sync_file_range",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "power-loss check: the OK to WALPUT test_key test_value",
            "it called sync_file_range on wal.log",
        ]),
    },
    Case {
        variant: "fsync_dir_not_file",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "power-loss check: the OK to WALPUT test_key test_value",
            "it fsync'd the directory, not wal.log",
        ]),
    },
    Case {
        variant: "ofstream_flush",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "power-loss check: the OK to WALPUT test_key test_value",
            "found write to wal.log, then OK with no fsync in between.",
        ]),
    },
    Case {
        variant: "ok_before_write",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "WALPUT test_key test_value was acknowledged",
            "found no file changed",
            "the store replied OK before writing the record",
        ]),
    },
    Case {
        variant: "compact_no_temp_fsync",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "power-loss check: the OK to WALPUT crash_key",
            "it wrote wal.log.tmp, then renamed it to wal.log with no fsync of wal.log.tmp before the rename",
        ]),
    },
    // The lesson's crash after the WAL write.
    Case {
        variant: "no_replay",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "GET test_key after the restart: expected VALUE test_value, found NOT_FOUND",
            "does not rebuild its map from the WAL on start",
        ]),
    },
    Case {
        variant: "walput_applied",
        drill: L07,
        flags: &[],
        verdict: Verdict::Fails(&[
            "expected NOT_FOUND, found VALUE test_value",
            "the store applied a WALPUT to its in-memory map",
        ]),
    },
    // A torn or flipped last record.
    Case {
        variant: "replays_partial",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "record 6 torn after ",
            "the store replayed a partial record as if it were whole",
        ]),
    },
    Case {
        variant: "dies_on_partial",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "the first 10 of the 20 bytes of record 6",
            "std::runtime_error",
            "Likely defect: the store died on a damaged log",
        ]),
    },
    Case {
        variant: "no_checksum",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "of record 6 (offset ",
            "nothing checked the record's integrity",
        ]),
    },
    Case {
        variant: "checksum_skips_key",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "GET tser:4 after the restart: expected NOT_FOUND",
            "a checksum over the whole record, key included",
        ]),
    },
    Case {
        variant: "trusts_length",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "std::bad_alloc",
            "the store ran out of memory",
            "it allocates what a damaged length field claims before checking that the bytes exist",
        ]),
    },
    Case {
        variant: "appends_behind_torn_tail",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "after the new PUT and a restart",
            "the new record went behind the partial record",
        ]),
    },
    Case {
        variant: "discards_log_on_damage",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "the first 10 of the 20 bytes of record 6",
            "never discard the whole log",
        ]),
    },
    // Damage before the last record.
    Case {
        variant: "skips_corrupt_continues",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "record 3 of 6 corrupt",
            "record 3 is corrupt, yet operations 4-6 were applied",
            "recovery must stop at the first corrupt record",
        ]),
    },
    Case {
        variant: "cuts_without_keeping",
        drill: L08,
        flags: &[],
        verdict: Verdict::Passes(&[
            PASSED_08,
            STOPPED_AT_3,
            "warning: the readable records after the damage (operations 4-6) are in no file of the store's directory any more",
        ]),
    },
    Case {
        variant: "refuses_earlier_damage",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&[
            "record 3 of 6 corrupt",
            "the store would not start on a log with a corrupt record before its last",
            "refusing to start is not the lesson's behaviour either",
        ]),
    },
];

/// The cases of the directory operations in the power-loss model and the
/// cost of a recovery (issue 22), which came last.
const NAMED_LAST: &[Case] = &[
    // w09-l08, compacting every 4 records: the compaction during operation
    // 4 renames wal.log.tmp over wal.log and never fsyncs the directory;
    // operation 5 is appended to the new file and acknowledged. A power
    // loss then can undo the rename: the old wal.log (operations 1-4) comes
    // back, and operation 5 is lost. (In w09-l07 the compaction is the last
    // write, and the old log it replaced holds every acknowledged record: a
    // warning about the directory is all that is due there.)
    Case {
        variant: "compact_no_dir_fsync",
        drill: L08,
        flags: &[],
        verdict: Verdict::Fails(&["power-loss check", "renam"]),
    },
    // With the memory to spare, the allocation succeeds: the start is slow
    // and huge rather than killed, and must be named all the same.
    Case {
        variant: "trusts_length",
        drill: L08,
        flags: &["--limit-memory", "4096"],
        verdict: Verdict::Fails(&["allocates what a damaged length field claims"]),
    },
];

/// A correct store whose compaction falls on w09-l08's sixth PUT, the one
/// the drill crashes and tears: today the drill fails it (it needs record 6
/// appended), saying the store rewrote its log.
const CRASHED_PUT_COMPACTS: &[Case] = &[Case {
    variant: "compacting_on_record_6",
    drill: L08,
    flags: &[],
    verdict: Verdict::Passes(&[PASSED_08]),
}];

/// Words a variant's transcript must not hold: a message naming something
/// the store did not do.
const NEVER: &[(&str, &str)] = &[
    // It fsync'd the old wal.log after its append; the rename replaced it.
    ("compact_no_temp_fsync", "before its last write"),
];

/// How long one drill run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Whether `g++` is here; off CI a missing one skips the tests.
fn have_gxx() -> bool {
    let found = Command::new("g++")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI needs g++");
        eprintln!("skipped: g++ is not installed (the C++ stores cannot be built)");
    }
    found
}

/// Runs `work` on each of `items` with `threads` threads; the results in
/// order.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(index) else { break };
                    let result = work(item);
                    results.lock().unwrap()[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|result| result.expect("every item ran"))
        .collect()
}

/// Compiles the variants `names` into `dir` as the store's manifest does
/// (`g++ -O2 -std=c++17`), a few at a time.
fn compile(names: &[&str], dir: &Path) -> Vec<(String, PathBuf)> {
    let source = root().join("examples/stores/cpp/kvstore.cpp");
    let variants: Vec<&Variant> = names
        .iter()
        .map(|name| {
            VARIANTS
                .iter()
                .find(|variant| variant.name == *name)
                .unwrap_or_else(|| panic!("variant {name} is listed"))
        })
        .collect();
    parallel(&variants, 3, |variant| {
        let exe = dir.join(variant.name);
        let output = Command::new("g++")
            .args(["-O2", "-std=c++17"])
            .args(variant.defines)
            .arg("-o")
            .arg(&exe)
            .arg(&source)
            .output()
            .expect("g++ runs");
        assert!(
            output.status.success(),
            "{} does not compile:\n{}",
            variant.name,
            String::from_utf8_lossy(&output.stderr)
        );
        (variant.name.to_string(), exe)
    })
}

/// Runs `drill` against `store`; its exit code (`None`: killed at the
/// limit) and its stdout.
fn run_drill(drill: &Path, store: &Path, flags: &[&str]) -> (Option<i32>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(drill)
        .args(flags)
        .arg("--store")
        .arg(store)
        .env("TMPDIR", tmp.path())
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the drill starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let code = match child.wait_timeout(RUN_LIMIT).unwrap() {
        Some(status) => status.code(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    (code, reader.join().unwrap())
}

/// What is wrong with one run, or `None` when the drill said what it must.
fn judge(case: &Case, code: Option<i32>, stdout: &str) -> Option<String> {
    let failed = stdout.lines().find(|line| line.starts_with("FAILED"));
    let wrong: Vec<&str> = NEVER
        .iter()
        .filter(|(variant, words)| *variant == case.variant && stdout.contains(words))
        .map(|(_, words)| *words)
        .collect();
    if !wrong.is_empty() {
        return Some(format!(
            "{} against {}: the transcript says {wrong:?}, which the store did not do\n--- transcript ---\n{stdout}",
            case.variant, case.drill
        ));
    }
    let problem = match (&case.verdict, code) {
        (_, None) => format!("did not finish within {} s", RUN_LIMIT.as_secs()),
        (Verdict::Passes(phrases), Some(0)) => {
            let missing: Vec<&&str> = phrases.iter().filter(|p| !stdout.contains(**p)).collect();
            if missing.is_empty() {
                return None;
            }
            format!("passed, but without {missing:?}")
        }
        (Verdict::Passes(_), Some(code)) => {
            format!(
                "expected to pass, exited {code}: {}",
                failed.unwrap_or("(no FAILED line)")
            )
        }
        (Verdict::Fails(phrases), Some(1)) => {
            let Some(line) = failed else {
                return Some(format!(
                    "{} against {}: exited 1 without a FAILED line:\n{stdout}",
                    case.variant, case.drill
                ));
            };
            let missing: Vec<&&str> = phrases.iter().filter(|p| !line.contains(**p)).collect();
            if missing.is_empty() {
                return None;
            }
            format!("failed, but its FAILED line lacks {missing:?}: {line}")
        }
        (Verdict::Fails(_), Some(code)) => format!("expected to fail (exit 1), exited {code}"),
    };
    Some(format!(
        "{} against {}: {problem}\n--- transcript ---\n{stdout}",
        case.variant, case.drill
    ))
}

/// Compiles what `cases` need, runs them three at a time, and fails listing
/// every case the drills got wrong.
fn check(cases: &[Case]) {
    if !have_gxx() {
        return;
    }
    let stores = tempfile::tempdir().unwrap();
    let mut names: Vec<&str> = cases.iter().map(|case| case.variant).collect();
    names.sort_unstable();
    names.dedup();
    // The drills build (into their own target folder) while g++ works.
    let (drills, built) = std::thread::scope(|scope| {
        let drills = scope.spawn(build);
        let built = compile(&names, stores.path());
        (drills.join().unwrap(), built)
    });
    let exe = |name: &str| -> &Path {
        let found = drills.iter().find(|(binary, _)| binary == name);
        &found.unwrap_or_else(|| panic!("{name} was built")).1
    };
    let store = |name: &str| -> &Path {
        &built
            .iter()
            .find(|(variant, _)| variant == name)
            .expect("compiled")
            .1
    };
    let problems: Vec<String> = parallel(cases, 3, |case| {
        let (code, stdout) = run_drill(exe(case.drill), store(case.variant), case.flags);
        judge(case, code, &stdout)
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        problems.is_empty(),
        "{} of {} runs went wrong:\n\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
}

#[test]
fn every_one_mistake_cpp_store_gets_its_verdict_and_the_controls_pass() {
    // Every mistake kvstore.cpp compiles in has a variant, and every
    // variant a case (here or among the pending ones).
    let source = std::fs::read_to_string(root().join("examples/stores/cpp/kvstore.cpp")).unwrap();
    let mut mistakes: Vec<&str> = source
        .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("MISTAKE_"))
        .collect();
    mistakes.sort_unstable();
    mistakes.dedup();
    assert!(mistakes.len() >= 20, "{mistakes:?}");
    for mistake in mistakes {
        let define = format!("-D{mistake}");
        assert!(
            VARIANTS
                .iter()
                .any(|variant| variant.defines.contains(&define.as_str())),
            "{mistake} has no variant"
        );
    }
    for variant in VARIANTS {
        let cased = CASES
            .iter()
            .chain(NAMED_LAST)
            .chain(CRASHED_PUT_COMPACTS)
            .any(|case| case.variant == variant.name);
        assert!(cased, "variant {} has no case", variant.name);
    }
    check(CASES);
}

#[test]
fn a_compaction_without_a_directory_fsync_and_a_trusted_length_are_named() {
    check(NAMED_LAST);
}

#[test]
#[ignore = "w09-l08 tears the record its sixth PUT appends: a correct store that compacts during that PUT fails with 'the store rewrote wal.log shorter rather than appending a record to it' (issue 22 finding, no design yet)"]
fn a_compaction_during_the_crashed_put() {
    check(CRASHED_PUT_COMPACTS);
}
