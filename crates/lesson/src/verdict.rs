//! A run's verdict, whatever the language: the table of lines that show how a
//! run ended, and the rule that decides between them.
//!
//! Proof patterns cannot tell success from failure (`assertion failed: key
//! not recovered` contains "recover"), so every paste is also read for what
//! the run itself reports. Each line is tried against [`RULES`] in order; the
//! first rule whose pattern matches says what the line means:
//!
//! - **final** lines report how the whole run ended: the shell's
//!   `exit code: N`, a test runner's closing summary (`test result: ok`,
//!   `=== 1 failed in 0.1s ===`, `FAIL pkg`). The *last* final line decides,
//!   outranking every line above it: a `#[should_panic]` test's
//!   `panicked at` followed by `test result: ok` passed, a child's crash
//!   followed by the run's own `exit code: 0` passed;
//! - **marker** lines show a failure on the way (a signal, a traceback, a
//!   sanitizer report, a build error). They fail the run unless a final line
//!   below them says it passed;
//! - **ignored** lines look like one of the above but are not about the run:
//!   a child process's exit reported as such.
//!
//! A count of zero (`FAILED: 0`, `0 failed`) is not a failure.
//!
//! When the deciding line is the shell's `exit code: 1` under a drill's
//! `FAILED: ...` verdict, the exit code still decides (it is how the run
//! ended), and the verdict is quoted with it ([`FailedRun::verdict`]): it is
//! the line that says what went wrong.

use std::fmt;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

use crate::line::{MatchedLine, line_at};

/// What a line matched by a rule says about the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Says {
    /// The run failed.
    Failed,
    /// The run passed.
    Passed,
    /// An exit code, in the `code` group: failed unless it is 0.
    ExitCode,
    /// A count of failures, in the `count` (and optional `errors`) groups:
    /// failed unless every count is 0; a zero count says nothing.
    Count,
    /// Nothing about this run (a child's exit reported as such).
    Nothing,
}

/// How much a rule's line weighs against the lines around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    /// A failure on the way; a later final line that passed outranks it.
    Marker,
    /// How the run ended; the last final line outranks every line above it.
    Final,
}

/// One row of the table.
#[derive(Debug)]
pub struct Rule {
    /// A short name, for tests and documentation.
    pub name: &'static str,
    /// The toolchain whose output the rule recognises.
    pub toolchain: &'static str,
    /// What a matching line says.
    pub says: Says,
    /// How much it weighs.
    pub rank: Rank,
    /// A line as the toolchain prints it, which the rule must match.
    pub example: &'static str,
    /// The regular expression, matched against one line.
    pub pattern: &'static str,
}

const fn rule(
    name: &'static str,
    toolchain: &'static str,
    says: Says,
    rank: Rank,
    example: &'static str,
    pattern: &'static str,
) -> Rule {
    Rule {
        name,
        toolchain,
        says,
        rank,
        example,
        pattern,
    }
}

use Rank::{Final, Marker};
use Says::{Count, ExitCode, Failed, Nothing, Passed};

/// The rules, tried in order on every line; the first match decides the line.
/// Order matters where lines could match two rules: the zero count before
/// the drill verdict, the verdict and panics before a child's exit.
pub const RULES: &[Rule] = &[
    // Zero counts first, so that the drill verdict rule below does not see them.
    rule(
        "harness zero count",
        "test harnesses printing `FAILED: N`",
        Count,
        Final,
        "FAILED: 0",
        r"^\s*FAILED:\s*(?P<count>\d+)\s*(tests?|checks?|failures?)?\s*$",
    ),
    rule(
        DRILL_VERDICT,
        "this course's drills",
        Failed,
        Final,
        "FAILED: get(test_key) after recovery: expected \"test_value\", found nothing",
        r"^\s*FAILED:",
    ),
    rule(
        "rust panic",
        "Rust",
        Failed,
        Marker,
        "thread 'main' panicked at src/main.rs:9:5:",
        r"panicked at",
    ),
    // A child process's end, reported as such, is not the run's (after the
    // verdict and panic rules: a failed check or a panic about a child is).
    rule(
        "child exit",
        "any: a program reporting on its child process",
        Nothing,
        Marker,
        "      child PID 4242 killed with SIGKILL after WAL fsync (signal: 9 (SIGKILL))",
        r"(?i)\bchild\b.*\b(exit|exited|killed|signal|status|code)\b",
    ),
    // Shells and IDEs reporting the exit status.
    rule(
        "cargo run",
        "cargo run / cargo test",
        Failed,
        Final,
        "error: process didn't exit successfully: `target/debug/drill` (exit status: 1)",
        r"error: process didn't exit successfully",
    ),
    rule(
        "exit code",
        "shells (`echo \"exit code: $?\"`), JetBrains IDEs",
        ExitCode,
        Final,
        "Process finished with exit code 139 (interrupted by signal 11:SIGSEGV)",
        r"(?i)\bexit[ _-]?code\b[ \t]*[:=]?[ \t]*(?P<code>-?\d+)",
    ),
    rule(
        "exited with code",
        "Visual Studio, VS Code, Node",
        ExitCode,
        Final,
        "The program '[8140] test.exe' has exited with code -1073741819 (0xc0000005).",
        r"(?i)\bexited with code (?P<code>-?\d+)",
    ),
    rule(
        "exit status",
        "go run, Go test binaries",
        ExitCode,
        Final,
        "exit status 1",
        r"^exit status (?P<code>\d+)\s*$",
    ),
    rule(
        "non-zero status",
        "GNU time, CI runners",
        Failed,
        Final,
        "Command exited with non-zero status 1",
        r"(?i)exited with non-zero status",
    ),
    // Test runners' final summaries.
    rule(
        "cargo test passed",
        "cargo test",
        Passed,
        Final,
        "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        r"^test result: ok\.",
    ),
    rule(
        "cargo test failed",
        "cargo test",
        Failed,
        Final,
        "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        r"^test result: FAILED\.",
    ),
    rule(
        "cargo targets failed",
        "cargo test",
        Failed,
        Final,
        "error: test failed, to rerun pass `--test crash`",
        r"^error: (test failed|\d+ targets? failed)",
    ),
    rule(
        "googletest failed",
        "googletest",
        Failed,
        Final,
        "[  FAILED  ] CrashTest.RecoversAfterWal (3 ms)",
        r"^\[  FAILED  \]|^\s*\d+ FAILED TESTS?\s*$",
    ),
    rule(
        "googletest passed",
        "googletest",
        Passed,
        Final,
        "[  PASSED  ] 3 tests.",
        r"^\[  PASSED  \] \d+ tests?",
    ),
    rule(
        "pytest failed",
        "pytest",
        Count,
        Final,
        "========================= 1 failed, 2 passed in 0.12s =========================",
        r"^=+ .*?\b(?P<count>\d+) (failed|errors?)\b.* in [\d.]+s.*=+\s*$",
    ),
    rule(
        "pytest passed",
        "pytest",
        Passed,
        Final,
        "============================== 3 passed in 0.05s ===============================",
        r"^=+ \d+ passed\b.* in [\d.]+s.*=+\s*$",
    ),
    rule(
        "pytest test failed",
        "pytest",
        Failed,
        Marker,
        "FAILED test_wal.py::test_crash_after_wal - AssertionError: assert None == b'v'",
        r"^FAILED \S+::",
    ),
    rule(
        "unittest failed",
        "Python unittest",
        Count,
        Final,
        "FAILED (failures=1)",
        r"^FAILED \((failures|errors)=(?P<count>\d+)",
    ),
    rule(
        "unittest passed",
        "Python unittest",
        Passed,
        Final,
        "OK",
        r"^OK\s*$",
    ),
    rule(
        "go test failed",
        "go test",
        Failed,
        Marker,
        "--- FAIL: TestCrashAfterWal (0.00s)",
        r"^\s*--- FAIL: ",
    ),
    rule(
        "go package failed",
        "go test",
        Failed,
        Final,
        "FAIL\texample.com/wal\t0.005s",
        r"^FAIL(\s|$)",
    ),
    rule(
        "go package passed",
        "go test",
        Passed,
        Final,
        "ok  \texample.com/wal\t0.004s",
        r"^(ok\s+\S+\s+(\(cached\)|[\d.]+s)|PASS\s*$)",
    ),
    rule(
        "junit summary",
        "JUnit (Maven Surefire)",
        Count,
        Final,
        "Tests run: 3, Failures: 1, Errors: 0, Skipped: 0",
        r"Tests run: \d+, Failures: (?P<count>\d+), Errors: (?P<errors>\d+)",
    ),
    rule(
        "junit console",
        "JUnit 5 console launcher",
        Count,
        Final,
        "[         1 tests failed          ]",
        r"^\[\s*(?P<count>\d+) tests failed\s*\]",
    ),
    rule(
        "build failed",
        "Maven, Gradle",
        Failed,
        Final,
        "[INFO] BUILD FAILURE",
        r"\bBUILD FAIL(URE|ED)\b",
    ),
    rule(
        "build passed",
        "Maven, Gradle",
        Passed,
        Final,
        "BUILD SUCCESSFUL in 2s",
        r"\bBUILD SUCCESS(FUL)?\b",
    ),
    rule(
        "ctest",
        "CTest",
        Count,
        Final,
        "67% tests passed, 1 tests failed out of 3",
        r"tests passed, (?P<count>\d+) tests? failed out of",
    ),
    rule(
        "catch2 failed",
        "Catch2",
        Count,
        Final,
        "test cases: 2 | 1 passed | 1 failed",
        r"^test cases:.*\| (?P<count>\d+) failed",
    ),
    rule(
        "catch2 passed",
        "Catch2",
        Passed,
        Final,
        "All tests passed (4 assertions in 2 test cases)",
        r"^All tests passed",
    ),
    rule(
        "jest",
        "Jest, Vitest and other summaries (`5 passed, 0 failed`)",
        Count,
        Final,
        "Tests:       1 failed, 2 passed, 3 total",
        r"(?i)(^|[\s,:(])(?P<count>\d+) (tests? )?(failed|failures?)\b",
    ),
    // Failures on the way.
    rule(
        "signal",
        "POSIX shells (bash, zsh, sh)",
        Failed,
        Marker,
        "bash: line 1: 81234 Segmentation fault      (core dumped) ./test_crash_after_wal",
        r"(?i)^(\S+: )?(line \d+:\s+)?(\d+\s+)?(segmentation fault|aborted|abort|killed|bus error|floating point exception|illegal instruction|trace/breakpoint trap)(\s+\(core dumped\))?(\s+[./\w-]+){0,2}\s*$",
    ),
    rule(
        "go panic",
        "Go",
        Failed,
        Marker,
        "panic: runtime error: index out of range [3] with length 3",
        r"^(panic: |fatal error: )",
    ),
    rule(
        "python traceback",
        "Python",
        Failed,
        Marker,
        "Traceback (most recent call last):",
        r"^Traceback \(most recent call last\):",
    ),
    rule(
        "uncaught exception",
        "Java, .NET, Node, C++",
        Failed,
        Marker,
        "Exception in thread \"main\" java.lang.AssertionError: key not recovered",
        r"^(Exception in thread |Unhandled exception\. |Uncaught \w*(Error|Exception)|terminate called (after throwing|without an active exception))",
    ),
    rule(
        "c assert",
        "C and C++ assert (glibc, musl, MSVC)",
        Failed,
        Marker,
        "test_crash_after_wal: test.cc:12: int main(): Assertion `store.get(\"k\")' failed.",
        r"Assertion [`'].*' failed|^Assertion failed: ",
    ),
    rule(
        "sanitizer",
        "AddressSanitizer, UBSan and the other sanitizers",
        Failed,
        Marker,
        "==12345==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010",
        r"^==\d+==ERROR: \w+Sanitizer|^SUMMARY: \w+Sanitizer|: runtime error: ",
    ),
    rule(
        "valgrind",
        "Valgrind",
        Count,
        Marker,
        "==4242== ERROR SUMMARY: 2 errors from 2 contexts (suppressed: 0 from 0)",
        r"^==\d+== ERROR SUMMARY: (?P<count>\d+) errors?",
    ),
    rule(
        "make error",
        "make",
        Failed,
        Marker,
        "make: *** [Makefile:12: test] Error 1",
        r"^(g?make|mingw32-make)(\[\d+\])?: \*\*\* .*Error \d+",
    ),
    rule(
        "compiler error",
        "gcc, clang, rustc, javac, cargo",
        Failed,
        Marker,
        "test_crash.cc:14:5: error: 'recover' was not declared in this scope",
        r"^\S+:\d+(:\d+)?: (fatal )?error: |^error(\[E\d{4}\])?: (could not compile|aborting due to)|^error\[E\d{4}\]: |^collect2: error: |undefined reference to ",
    ),
    rule(
        "command not found",
        "bash, zsh, sh, cmd.exe, PowerShell",
        Failed,
        Marker,
        "bash: ./test_crash_after_wal: command not found",
        r"(?i)(: command not found\b|^zsh: command not found: |: No such file or directory\s*$|is not recognized as an internal or external command|is not recognized as the name of a cmdlet)",
    ),
];

/// Every rule's pattern in one set, so that a line is scanned once whatever
/// the number of rules (a 16 MiB paste has hundreds of thousands of lines),
/// plus each pattern alone for its capture groups.
static COMPILED: LazyLock<(RegexSet, Vec<Regex>)> = LazyLock::new(|| {
    let patterns = RULES.iter().map(|rule| rule.pattern);
    let set = RegexSet::new(patterns.clone()).expect("the verdict rules are valid");
    let each = patterns
        .map(|pattern| Regex::new(pattern).expect("the verdict rules are valid"))
        .collect();
    (set, each)
});

/// The line of a paste that decided it shows a failed run, and the rule that
/// recognised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRun {
    /// The rule that matched the line.
    pub rule: &'static Rule,
    /// The line.
    pub line: MatchedLine,
    /// A drill's `FAILED:` verdict that the deciding line follows (the final
    /// line right above it, such as the drill's verdict above the shell's
    /// `exit code: 1`): it says what went wrong, the deciding line only
    /// that the run ended badly.
    pub verdict: Option<MatchedLine>,
}

impl FailedRun {
    /// A verified drill transcript's own `FAILED:` verdict, which decides
    /// its run whatever the lines around it say.
    pub fn drill_verdict(line: MatchedLine) -> Self {
        let rule = RULES
            .iter()
            .find(|rule| rule.name == DRILL_VERDICT)
            .expect("the table has the drill verdict rule");
        Self {
            rule,
            line,
            verdict: None,
        }
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Rule {}

impl fmt::Display for FailedRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed run: line {}: {}",
            self.line.number, self.line.text
        )?;
        if let Some(verdict) = &self.verdict {
            write!(
                f,
                " (the drill's verdict, line {}: {})",
                verdict.number, verdict.text
            )?;
        }
        Ok(())
    }
}

/// The rule that decides `line`, with what it says there: `None` when no
/// rule matches. A zero count and an exit code of 0 say `Passed` (final) or
/// nothing (marker).
pub fn classify(line: &str) -> Option<(&'static Rule, Outcome)> {
    let (set, each) = &*COMPILED;
    let index = set.matches(line).into_iter().next()?;
    let rule = &RULES[index];
    let captures = each[index].captures(line);
    let outcome = match rule.says {
        Failed => Outcome::Failed,
        Passed => Outcome::Passed,
        Nothing => Outcome::Nothing,
        ExitCode => nonzero(captures.as_ref(), &["code"]),
        Count => nonzero(captures.as_ref(), &["count", "errors"]),
    };
    Some((rule, outcome))
}

/// What one line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The run failed.
    Failed,
    /// The run passed (counts only on final lines).
    Passed,
    /// Nothing about the run.
    Nothing,
}

fn nonzero(captures: Option<&Captures<'_>>, groups: &[&str]) -> Outcome {
    let failing = groups.iter().any(|group| {
        captures
            .and_then(|c| c.name(group))
            .is_some_and(|number| !number.as_str().trim_start_matches(['-', '0']).is_empty())
    });
    if failing {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

/// Decide whether normalised `text` shows a failed run (see the module
/// documentation): the last final line decides when there is one, and
/// failure markers below it still fail the run; without a final line, the
/// first failure marker does.
pub fn find_failed_run(text: &str) -> Option<FailedRun> {
    let mut decided: Option<(usize, &'static Rule, Outcome)> = None; // last final line
    let mut before: Option<(usize, &'static Rule, Outcome)> = None; // the final line above it
    let mut marker: Option<(usize, &'static Rule)> = None; // first marker after it
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        match classify(line.trim_end_matches(['\n', '\r'])) {
            Some((rule, outcome)) if rule.rank == Rank::Final && outcome != Outcome::Nothing => {
                before = decided.replace((offset, rule, outcome));
                marker = None;
            }
            Some((rule, Outcome::Failed)) if marker.is_none() => marker = Some((offset, rule)),
            _ => {}
        }
        offset += line.len();
    }
    let (offset, rule, verdict) = match (decided, marker) {
        (Some((offset, rule, Outcome::Failed)), _) => {
            // A drill's failed verdict right above, when it did not decide.
            let verdict = before
                .filter(|(_, above, outcome)| {
                    above.name == DRILL_VERDICT && *outcome == Outcome::Failed
                })
                .filter(|_| rule.name != DRILL_VERDICT)
                .map(|(at, _, _)| line_at(text, at, at));
            (offset, rule, verdict)
        }
        (_, Some((offset, rule))) => (offset, rule, None),
        _ => return None,
    };
    Some(FailedRun {
        rule,
        line: line_at(text, offset, offset),
        verdict,
    })
}

/// The name of the rule for this course's drills' `FAILED:` verdict.
const DRILL_VERDICT: &str = "drill verdict";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_decides_its_own_example() {
        for rule in RULES {
            let (found, outcome) = classify(rule.example)
                .unwrap_or_else(|| panic!("{}: no rule matches {:?}", rule.name, rule.example));
            assert_eq!(
                found.name, rule.name,
                "{:?} is taken by an earlier rule",
                rule.example
            );
            let expected = match rule.says {
                Says::Passed => Outcome::Passed,
                Says::Nothing => Outcome::Nothing,
                _ if rule.name == "harness zero count" => Outcome::Passed,
                _ => Outcome::Failed,
            };
            assert_eq!(outcome, expected, "{}", rule.name);
            assert!(!rule.toolchain.is_empty());
        }
    }

    #[test]
    fn ordinary_lines_decide_nothing_and_order_settles_overlaps() {
        for line in [
            "[4/6] restart: new KvStore (empty map) recovering from /tmp/x/wal.log",
            "      child PID 11839 wrote PUT crash_key = \"written before SIGKILL\" to the WAL only",
            "ok: 248 of 248 single-bit flips in record 6 were caught and never applied",
            "Crash drill 2 passed: 5 records recovered, 1 partial record skipped",
            "How to simulate a crash: call `_exit(1)` (not `exit()`). Or use `kill -9` on the process.",
            "the run was killed by nobody",
        ] {
            assert_eq!(classify(line).map(|(rule, _)| rule.name), None, "{line}");
        }
        for (line, rule) in [
            (
                "FAILED: child PID 7 exited with code 3 before its WAL write",
                "drill verdict",
            ),
            ("thread 'child' panicked at src/child.rs:3:5:", "rust panic"),
            ("child exit code: 1", "child exit"),
        ] {
            assert_eq!(
                classify(line).map(|(rule, _)| rule.name),
                Some(rule),
                "{line}"
            );
        }
    }
}
