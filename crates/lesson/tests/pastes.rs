//! Pastes an instructor receives, graded against the real w09-l07 lesson:
//! other languages' failing and passing runs, echoes of the lesson, encodings,
//! and cut or edited drill transcripts. Every paste here matches both proof
//! patterns (`crash|simulate`, `recover|replay|found`) on a line of its own,
//! so what decides is what the case is about; each asserts the verdict and
//! the whole message.

use std::path::PathBuf;

use lesson::{Lesson, Receipt};

fn lesson_path() -> PathBuf {
    [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "lessons",
        "w09-l07",
        "lesson.md",
    ]
    .iter()
    .collect()
}

fn lesson() -> Lesson {
    Lesson::load(lesson_path()).expect("the real lesson parses")
}

/// Grade every `(name, paste, message)`: `None` must pass, `Some(m)` must
/// fail with exactly message `m`.
fn assert_grades(cases: &[(&str, &[u8], Option<&str>)]) {
    let lesson = lesson();
    for (name, paste, expected) in cases {
        let report = lesson.check(paste);
        assert_eq!(
            report.failure().as_deref(),
            *expected,
            "{name}:\n{}",
            String::from_utf8_lossy(paste)
        );
        assert_eq!(report.passed(), expected.is_none(), "{name}");
    }
}

/// A student's own crash test, as a toolchain prints it, with `ending`
/// after it.
fn run(ending: &str) -> String {
    format!(
        "$ ./test_crash_after_wal\nsimulated crash after WAL append\nrecovered test_key from the WAL\n{ending}"
    )
}

#[test]
fn failed_runs_in_every_language_fail_quoting_the_deciding_line() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("bash segfault", run("Segmentation fault (core dumped)\n"), "line 4: Segmentation fault (core dumped)"),
        ("bash segfault with pid", run("bash: line 1: 81234 Segmentation fault      (core dumped) ./test_crash_after_wal\n"), "line 4: bash: line 1: 81234 Segmentation fault      (core dumped) ./test_crash_after_wal"),
        ("zsh segfault", run("zsh: segmentation fault (core dumped)  ./test_crash_after_wal\n"), "line 4: zsh: segmentation fault (core dumped)  ./test_crash_after_wal"),
        ("abort", run("Aborted (core dumped)\n"), "line 4: Aborted (core dumped)"),
        ("oom kill", run("Killed\n"), "line 4: Killed"),
        ("python traceback", run("Traceback (most recent call last):\n  File \"test_wal.py\", line 9, in <module>\n    assert store.get('test_key') == 'test_value'\nAssertionError\n"), "line 4: Traceback (most recent call last):"),
        ("java exception", run("Exception in thread \"main\" java.lang.AssertionError: key not recovered\n\tat CrashTest.main(CrashTest.java:12)\n"), "line 4: Exception in thread \"main\" java.lang.AssertionError: key not recovered"),
        ("go test", run("--- FAIL: TestCrashAfterWal (0.00s)\n    wal_test.go:21: get(test_key) = \"\", want \"test_value\"\nFAIL\nFAIL\texample.com/wal\t0.005s\n"), "line 7: FAIL\texample.com/wal\t0.005s"),
        ("go panic", run("panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\nexit status 2\n"), "line 8: exit status 2"),
        ("go run exit", run("exit status 1\n"), "line 4: exit status 1"),
        ("pytest", run("FAILED test_wal.py::test_crash_after_wal - AssertionError\n========================= 1 failed, 2 passed in 0.12s =========================\n"), "line 5: ========================= 1 failed, 2 passed in 0.12s ========================="),
        ("googletest", run("[  FAILED  ] CrashTest.RecoversAfterWal (3 ms)\n[==========] 1 test from 1 test suite ran. (3 ms total)\n[  PASSED  ] 0 tests.\n[  FAILED  ] 1 test, listed below:\n[  FAILED  ] CrashTest.RecoversAfterWal\n\n 1 FAILED TEST\n"), "line 10:  1 FAILED TEST"),
        ("make", run("make: *** [Makefile:12: test] Error 1\n"), "line 4: make: *** [Makefile:12: test] Error 1"),
        ("asan", run("=================================================================\n==12345==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n"), "line 5: ==12345==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010"),
        ("ubsan", run("wal.cc:31:9: runtime error: signed integer overflow\n"), "line 4: wal.cc:31:9: runtime error: signed integer overflow"),
        ("visual studio", run("The program '[8140] test_crash_after_wal.exe' has exited with code -1073741819 (0xc0000005).\n"), "line 4: The program '[8140] test_crash_after_wal.exe' has exited with code -1073741819 (0xc0000005)."),
        ("jetbrains", run("\nProcess finished with exit code 134 (interrupted by signal 6:SIGABRT)\n"), "line 5: Process finished with exit code 134 (interrupted by signal 6:SIGABRT)"),
        ("command not found", "$ ./test_crash_after_wal\nbash: ./test_crash_after_wal: command not found\n# simulate crash, then recover\n".into(), "line 2: bash: ./test_crash_after_wal: command not found"),
        ("not found then exit code", "bash: ./test_crash_after_wal: No such file or directory\ncrash recover\nexit code: 127\n".into(), "line 3: exit code: 127"),
        ("cmd.exe", "'test_crash_after_wal' is not recognized as an internal or external command,\ncrash recover\n".into(), "line 1: 'test_crash_after_wal' is not recognized as an internal or external command,"),
        ("cargo test", run("test crash_after_wal ... FAILED\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"), "line 6: test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"),
        ("c assert", run("test_crash_after_wal: test.cc:12: int main(): Assertion `store.get(\"k\")' failed.\n"), "line 4: test_crash_after_wal: test.cc:12: int main(): Assertion `store.get(\"k\")' failed."),
        ("c++ exception", run("terminate called after throwing an instance of 'std::runtime_error'\n  what():  WAL checksum mismatch\n"), "line 4: terminate called after throwing an instance of 'std::runtime_error'"),
        ("maven", run("Tests run: 1, Failures: 1, Errors: 0, Skipped: 0\n[INFO] BUILD FAILURE\n"), "line 5: [INFO] BUILD FAILURE"),
        ("gcc", "test_crash.cc:14:5: error: 'recover' was not declared in this scope\n   14 |     recover(store); // crash test\n".into(), "line 1: test_crash.cc:14:5: error: 'recover' was not declared in this scope"),
        ("ctest", run("67% tests passed, 1 tests failed out of 3\n"), "line 4: 67% tests passed, 1 tests failed out of 3"),
        ("unittest", run("FAILED (failures=1)\n"), "line 4: FAILED (failures=1)"),
        ("valgrind", run("==4242== ERROR SUMMARY: 2 errors from 2 contexts (suppressed: 0 from 0)\n"), "line 4: ==4242== ERROR SUMMARY: 2 errors from 2 contexts (suppressed: 0 from 0)"),
        ("rust panic", run("thread 'main' panicked at src/main.rs:9:5:\nassertion failed: recovered\n"), "line 4: thread 'main' panicked at src/main.rs:9:5:"),
        ("drill verdict", run("FAILED: get(test_key) after recovery: expected \"test_value\", found nothing\n"), "line 4: FAILED: get(test_key) after recovery: expected \"test_value\", found nothing"),
        ("a later crash after a pass", run("exit code: 0\nSegmentation fault\n"), "line 5: Segmentation fault"),
    ];
    let cases: Vec<(&str, &[u8], Option<String>)> = cases
        .iter()
        .map(|(name, paste, line)| (*name, paste.as_bytes(), Some(format!("failed run: {line}"))))
        .collect();
    let cases: Vec<(&str, &[u8], Option<&str>)> = cases
        .iter()
        .map(|(n, p, m)| (*n, *p, m.as_deref()))
        .collect();
    assert_grades(&cases);
}

#[test]
fn honest_passes_pass() {
    let cases: Vec<(&str, String)> = vec![
        ("googletest", run("[==========] 1 test from 1 test suite ran. (2 ms total)\n[  PASSED  ] 1 test.\n$ echo \"exit code: $?\"\nexit code: 0\n")),
        ("pytest", run("============================== 3 passed in 0.05s ===============================\n")),
        ("go test", run("PASS\nok  \texample.com/wal\t0.004s\n")),
        ("harness zero count", run("PASSED: 3\nFAILED: 0\n")),
        ("a child's crash, then the run's own exit", run("child exit code: 1 (killed on purpose)\nexit code: 0\n")),
        ("a child killed, reported as such", run("      child PID 4242 killed with SIGKILL after WAL fsync (signal: 9 (SIGKILL))\n")),
        ("should_panic", run("thread 'crash_mid_write' panicked at tests/crash.rs:40:5:\nsimulated crash\ntest crash_mid_write - should panic ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n")),
        ("maven", run("Tests run: 3, Failures: 0, Errors: 0, Skipped: 0\n[INFO] BUILD SUCCESS\n")),
        ("zero failed", run("5 passed, 0 failed\n")),
        ("valgrind clean", run("==4242== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)\n")),
        ("catch2", run("All tests passed (4 assertions in 2 test cases)\n")),
        ("jetbrains", run("\nProcess finished with exit code 0\n")),
        ("an earlier failed attempt, then a passing run", "$ ./test_crash_after_wal\nSegmentation fault (core dumped)\n$ make && ./test_crash_after_wal\nsimulated crash; recovered\nexit code: 0\n".into()),
    ];
    let cases: Vec<(&str, &[u8], Option<&str>)> = cases
        .iter()
        .map(|(n, p)| (*n, p.as_bytes(), None))
        .collect();
    assert_grades(&cases);
}

#[test]
fn echoes_of_the_lesson_fail_and_say_so() {
    let document = std::fs::read_to_string(lesson_path()).unwrap();
    let expected_line = "Expected: \"Crash drill 1 passed: data recovered from WAL\"\n";
    let instructions = "Paste output showing: put written to WAL, simulated crash, restart, replay recovers the put.\n";
    let task = "   - Calls recover() with the same WAL path\n2. This proves the WAL is the source of truth, not memory\nThis is the first of three crash drills. You simulate a crash at a specific point and verify the data is recoverable.\n";
    let patterns = "crash|simulate\nrecover|replay|found\n";
    let echo = |pattern: &str, line: &str| {
        format!(
            "`{pattern}` matches only text copied from the lesson itself ({line}), not a run's output"
        )
    };
    let both = |crash: &str, recover: &str| {
        format!(
            "{}; {}",
            echo("crash|simulate", crash),
            echo("recover|replay|found", recover)
        )
    };
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("the Expected line", expected_line.into(), Some(format!("{}; no line matches `recover|replay|found`", echo("crash|simulate", "line 1: Expected: \"Crash drill 1 passed: data recovered from WAL\"")).replace("; no line matches `recover|replay|found`", &format!("; {}", echo("recover|replay|found", "line 1: Expected: \"Crash drill 1 passed: data recovered from WAL\""))))),
        ("the quote of the Expected line, with an exit code", "Crash drill 1 passed: data recovered from WAL\nexit code: 0\n".into(), Some(both("line 1: Crash drill 1 passed: data recovered from WAL", "line 1: Crash drill 1 passed: data recovered from WAL"))),
        ("the instructions, in capitals and spaced", instructions.to_uppercase().replace(' ', "   "), Some(both(&format!("line 1: {}", instructions.trim_end().to_uppercase().replace(' ', "   ")), &format!("line 1: {}", instructions.trim_end().to_uppercase().replace(' ', "   "))))),
        ("the task", task.into(), Some(both("line 3: This is the first of three crash drills. You simulate a crash at a specific point and verify the data is recoverable.", "line 1:    - Calls recover() with the same WAL path"))),
        ("the patterns", patterns.into(), Some(both("line 1: crash|simulate", "line 2: recover|replay|found"))),
        ("a real run that also prints the Expected line", "simulated crash\nreplay found 1 record\nCrash drill 1 passed: data recovered from WAL\n".into(), None),
    ];
    let cases: Vec<(&str, &[u8], Option<&str>)> = cases
        .iter()
        .map(|(n, p, m)| (*n, p.as_bytes(), m.as_deref()))
        .collect();
    assert_grades(&cases);
    // The whole document: every pattern matches only the lesson's own lines.
    let report = lesson().check(document.as_bytes());
    let failure = report.failure().unwrap();
    assert!(failure.starts_with("`crash|simulate` matches only text copied from the lesson itself (line 3: title: \"Crash drill — after WAL write, before apply\")"), "{failure}");
    assert!(
        failure.contains(
            "`recover|replay|found` matches only text copied from the lesson itself (line 11:"
        ),
        "{failure}"
    );
}

#[test]
fn encodings_and_line_ends_do_not_decide() {
    let pass = run("[  PASSED  ] 1 test.\nexit code: 0\n").replace('\n', "\r\n");
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(pass.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(pass.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    let utf8_bom: Vec<u8> = b"\xEF\xBB\xBF"
        .iter()
        .copied()
        .chain(pass.bytes())
        .collect();
    let fail = run("Segmentation fault (core dumped)\nexit code: 139\n");
    let fail16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(fail.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let cr_only =
        run("FAILED: get(test_key): expected \"test_value\", found nothing\n").replace('\n', "\r");
    let progress = "simulated crash\nreplaying  10%\rreplaying 100%\nrecovered\nexit code: 0\n";
    let overwritten = "simulated crash, recovering...  10%\rstarting\nexit code: 0\n";
    let coloured = "\x1b[32m[ RUN      ]\x1b[0m CrashTest.SimulatedCrash\n\x1b[31m[  FAILED  ]\x1b[0m CrashTest.Recover (0 ms)\n";
    let cases: Vec<(&str, &[u8], Option<&str>)> = vec![
        ("UTF-16 LE with BOM, CRLF", &utf16le, None),
        ("UTF-16 BE with BOM, CRLF", &utf16be, None),
        ("UTF-8 with BOM, CRLF", &utf8_bom, None),
        (
            "UTF-16 failing run",
            &fail16,
            Some("failed run: line 5: exit code: 139"),
        ),
        (
            "CR-only line ends hide nothing",
            cr_only.as_bytes(),
            Some(
                "failed run: line 4: FAILED: get(test_key): expected \"test_value\", found nothing",
            ),
        ),
        (
            "a progress line keeps its last text",
            progress.as_bytes(),
            None,
        ),
        (
            "an overwritten line keeps what was written last",
            overwritten.as_bytes(),
            Some("no line matches `crash|simulate`, `recover|replay|found`"),
        ),
        (
            "colours around a failure",
            coloured.as_bytes(),
            Some("failed run: line 2: [  FAILED  ] CrashTest.Recover (0 ms)"),
        ),
    ];
    assert_grades(&cases);
}

/// A drill-shaped transcript: a title, step lines, the verdict.
const TRANSCRIPT: &str =
    "Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply
[1/3] created KvStore with WAL at /tmp/test_crash_after_wal-x/wal.log
[2/3] simulated crash: dropped the store before the PUT was applied to its map
[3/3] restart: new KvStore (empty map) recovering from /tmp/test_crash_after_wal-x/wal.log
      replay found 1 record (last LSN 1), the log ends cleanly
Crash drill 1 passed: data recovered from WAL
";

/// [`TRANSCRIPT`] of a run with `--store`: the lines naming the store under
/// the title.
fn with_store_lines() -> String {
    TRANSCRIPT.replacen(
        "\n",
        &format!(
            "\nstore under test: python3 my_store.py DIR\n  sha256 {}  my_store.py\n",
            "b3".repeat(32)
        ),
        1,
    )
}

fn with_receipt(lesson: &str, transcript: &str) -> String {
    let receipt = Receipt::issue(lesson, "0123456789abcdef", transcript.as_bytes());
    format!("{transcript}{receipt}\n")
}

#[test]
fn cut_and_edited_transcripts_fail_and_say_which() {
    let whole = format!(
        "$ ./test_crash_after_wal\n{}$ echo \"exit code: $?\"\nexit code: 0\n",
        with_receipt("w09-l07", TRANSCRIPT)
    );
    let crlf_coloured = whole
        .replace('\n', "  \r\n")
        .replace("[1/3]", "\x1b[1m[1/3]\x1b[0m");
    let lines: Vec<&str> = whole.lines().collect();
    let no_receipt: String = lines[..7].iter().map(|l| format!("{l}\n")).collect();
    let head3: String = lines[..4].iter().map(|l| format!("{l}\n")).collect();
    let edited = whole.replace("last LSN 1", "last LSN 2");
    let inserted = whole.replace("[3/3]", "      simulated crash recovered\n[3/3]");
    let other = with_receipt("w09-l08", TRANSCRIPT);
    let bad_format = whole.replace("run=0123456789abcdef", "run=0123");
    let spliced = format!(
        "{}[4/3] recovered the crash\n",
        with_receipt("w09-l07", TRANSCRIPT)
    );
    let cut = "cut short: the drill transcript from line 2 (Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply) has no receipt line after it; paste the drill's whole output";
    // With --store, the title is above the store lines.
    let store_run = format!("$ ./test_crash_after_wal\n{}", with_store_lines());
    let store_cut: String = store_run
        .lines()
        .take(7)
        .map(|l| format!("{l}\n"))
        .collect();
    let head3_message = format!("{cut}; no line matches `recover|replay|found`");
    let cases: Vec<(&str, &[u8], Option<&str>)> = vec![
        (
            "whole, with the Verify section's shell lines",
            whole.as_bytes(),
            None,
        ),
        (
            "whole, CRLF, trailing spaces and colour",
            crlf_coloured.as_bytes(),
            None,
        ),
        ("cut before the receipt", no_receipt.as_bytes(), Some(cut)),
        ("a --store run cut", store_cut.as_bytes(), Some(cut)),
        ("head -3", head3.as_bytes(), Some(&head3_message)),
        (
            "a number changed",
            edited.as_bytes(),
            Some(
                "edited: the receipt on line 8 does not match the 6 lines above it (lines 2 to 7)",
            ),
        ),
        (
            "a line inserted",
            inserted.as_bytes(),
            Some(
                "edited: the receipt on line 9 does not match the 6 lines above it (lines 3 to 8)",
            ),
        ),
        (
            "another lesson's receipt",
            other.as_bytes(),
            Some("the receipt on line 7 is from lesson w09-l08's drill, not this lesson's"),
        ),
        (
            "a receipt not in the format",
            bad_format.as_bytes(),
            Some("edited: the receipt on line 8 is not in the receipt format"),
        ),
        (
            "a step line spliced in after the receipt",
            spliced.as_bytes(),
            Some(
                "cut short: the drill transcript from line 8 ([4/3] recovered the crash) has no receipt line after it; paste the drill's whole output",
            ),
        ),
    ];
    assert_grades(&cases);
}

/// Inside a transcript its receipt vouches for, the drill's verdict is the
/// run's own line although the lesson quotes it (`Expected:`), and it is the
/// line quoted: the last that matches.
#[test]
fn the_verdict_of_a_verified_transcript_is_the_line_quoted() {
    let lesson = lesson();
    let whole = with_receipt("w09-l07", TRANSCRIPT);
    let report = lesson.check(whole.as_bytes());
    assert!(report.passed(), "{report:?}");
    for pattern in &report.patterns {
        let line = pattern.last_match.as_ref().unwrap();
        assert_eq!(
            (line.number, line.text.as_str()),
            (6, "Crash drill 1 passed: data recovered from WAL"),
            "{}",
            pattern.pattern
        );
    }
    // Outside a verified transcript, the same line is an echo.
    let report = lesson.check(b"[3/3] replay\nCrash drill 1 passed: data recovered from WAL\n");
    let line = report.patterns[1].last_match.as_ref().unwrap();
    assert_eq!((line.number, line.text.as_str()), (1, "[3/3] replay"));
}
