//! Receipts of honestly reformatted transcripts (indented, quoted, wrapped
//! by a terminal, cut at the top), the drill's verified verdict against the
//! lines around it, several transcripts in one paste, and the bounds that
//! keep checking linear. Graded against the real w09-l07 lesson.

use std::path::PathBuf;
use std::time::Instant;

use lesson::{Lesson, Receipt};

fn lesson() -> Lesson {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "lessons",
        "w09-l07",
        "lesson.md",
    ]
    .iter()
    .collect();
    Lesson::load(path).expect("the real lesson parses")
}

const PASSED: &str = "Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply
store under test: python3 my_store.py DIR
  sha256 b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3  my_store.py
[1/3] started the store on an empty directory /tmp/test_crash_after_wal-x/store
[2/3] simulated crash: CRASH -> the store exited at once (exit status: 1), before the PUT reached its map
[3/3] restart: a new store process (empty map) recovering from the same directory
      ok: GET test_key -> VALUE test_value: the PUT was recovered from the WAL
Crash drill 1 passed: data recovered from WAL
";

const FAILED: &str = "Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply
store under test: python3 my_store.py DIR
  sha256 b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3  my_store.py
[1/3] started the store on an empty directory /tmp/test_crash_after_wal-x/store
[2/3] simulated crash: CRASH -> the store exited at once (exit status: 1), before the PUT reached its map
[3/3] restart: a new store process (empty map) on the same directory
FAILED: GET test_key after the restart: expected VALUE test_value, found NOT_FOUND. Likely defect: the store does not replay the WAL on start
";

fn with_receipt(lesson: &str, run: &str, transcript: &str) -> String {
    let receipt = Receipt::issue(lesson, run, transcript.as_bytes());
    format!("{transcript}{receipt}\n")
}

fn paste(transcript: &str, exit: u8) -> String {
    format!(
        "$ cargo run -q -p w09-l07 -- --store \"python3 my_store.py\"\n{}$ echo \"exit code: $?\"\nexit code: {exit}\n",
        with_receipt("w09-l07", "0123456789abcdef", transcript)
    )
}

/// `text` as a terminal `width` columns wide hard-wraps it when copied,
/// its receipt line left whole.
fn hard_wrapped(text: &str, width: usize) -> String {
    text.lines()
        .flat_map(|line| {
            let chars: Vec<char> = line.chars().collect();
            if line.starts_with("receipt:") || chars.is_empty() {
                return vec![line.to_owned()];
            }
            chars.chunks(width).map(|c| c.iter().collect()).collect()
        })
        .map(|line| line + "\n")
        .collect()
}

/// Every line of `text` behind `prefix`.
fn prefixed(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}\n"))
        .collect()
}

#[test]
fn indented_quoted_and_fenced_transcripts_verify() {
    let lesson = lesson();
    let whole = paste(PASSED, 0);
    for (name, text) in [
        ("as printed", whole.clone()),
        ("a Markdown code block", prefixed(&whole, "    ")),
        ("a tab", prefixed(&whole, "\t")),
        ("a quote", prefixed(&whole, "> ")),
        ("a quote of a quote", prefixed(&whole, "> > ")),
        ("a fence", format!("```text\n{whole}```\n")),
        (
            "a quote whose blank lines lost their space",
            prefixed(&paste(&PASSED.replace("[2/3]", "\n[2/3]"), 0), "> ").replace("> \n", ">\n"),
        ),
    ] {
        let report = lesson.check(text.as_bytes());
        assert!(report.passed(), "{name}: {:?}", report.failure());
        assert_eq!(report.transcripts.len(), 1, "{name}");
        let transcript = &report.transcripts[0];
        assert!(transcript.passed(), "{name}");
        assert_eq!(
            transcript.verdict.text, "Crash drill 1 passed: data recovered from WAL",
            "{name}"
        );
        let store = transcript.store.as_ref().expect("the store lines are read");
        assert_eq!(store.command, "python3 my_store.py DIR", "{name}");
        assert_eq!(store.files.len(), 1, "{name}");
    }
}

#[test]
fn a_wrapped_receipt_and_a_cut_top_say_so() {
    let lesson = lesson();
    let whole = paste(PASSED, 0);
    let receipt_line = whole
        .lines()
        .position(|l| l.starts_with("receipt:"))
        .unwrap();
    let mut lines: Vec<String> = whole.lines().map(str::to_owned).collect();
    let receipt = lines[receipt_line].clone();
    lines[receipt_line] = receipt[..80].to_owned();
    lines.insert(receipt_line + 1, receipt[80..].to_owned());
    let wrapped = lines.join("\n");
    let report = lesson.check(wrapped.as_bytes());
    assert_eq!(
        report.failure().as_deref(),
        Some(&*format!(
            "the receipt on line {} looks wrapped: paste it on one line",
            receipt_line + 1
        ))
    );

    // The top of the output missing: five lines of the transcript cut.
    let top_cut: String = whole.lines().skip(6).map(|l| format!("{l}\n")).collect();
    let report = lesson.check(top_cut.as_bytes());
    let failure = report.failure().unwrap();
    assert!(
        failure.starts_with("cut short: the receipt on line 4 covers 8 lines; only 3 are above it: the top of the output is missing"),
        "{failure}"
    );
}

#[test]
fn a_transcript_hard_wrapped_by_the_terminal_verifies() {
    let lesson = lesson();
    let whole = paste(PASSED, 0);
    let width = 60;
    let wrapped = hard_wrapped(&whole, width);
    assert!(wrapped.lines().count() > whole.lines().count() + 3);
    let report = lesson.check(wrapped.as_bytes());
    assert!(report.passed(), "{:?}\n{wrapped}", report.failure());
    assert_eq!(
        report.transcripts[0].verdict.text,
        "Crash drill 1 passed: data recovered from WAL"
    );
    // A wrapped FAILED verdict is still read whole, and still fails.
    let failed = paste(FAILED, 0);
    let wrapped_failed = hard_wrapped(&failed, width);
    let report = lesson.check(wrapped_failed.as_bytes());
    assert!(
        !report.transcripts.is_empty(),
        "the wrapped transcript verifies"
    );
    assert!(!report.passed());
    assert!(
        report.transcripts[0]
            .verdict
            .text
            .starts_with("FAILED: GET test_key")
    );
}

#[test]
fn the_drills_verdict_decides_over_the_lines_around_it() {
    let lesson = lesson();
    // The shell's exit code edited from 1 to 0 under a FAILED verdict.
    let edited_exit = paste(FAILED, 0);
    let report = lesson.check(edited_exit.as_bytes());
    assert!(!report.passed());
    let failure = report.failure().unwrap();
    assert!(
        failure.starts_with("failed run: line 8: FAILED: GET test_key after the restart"),
        "{failure}"
    );
    // A line outside can still make a pass worse.
    let outside_failure = paste(PASSED, 1);
    let report = lesson.check(outside_failure.as_bytes());
    assert_eq!(
        report.failure().as_deref(),
        Some("failed run: line 12: exit code: 1")
    );
    // A store's traceback shown inside a passing transcript is the drill's
    // business: its verdict passed.
    let traceback = PASSED.replace(
        "[3/3]",
        "      store stderr: Traceback (most recent call last):\n[3/3]",
    );
    let report = lesson.check(with_receipt("w09-l07", "0123456789abcdef", &traceback).as_bytes());
    assert!(report.passed(), "{:?}", report.failure());
}

#[test]
fn evidence_comes_only_from_the_transcript_and_never_from_a_failed_verdict() {
    let lesson = lesson();
    let text =
        lesson::normalize(format!("recover crash typed by hand\n{}", paste(FAILED, 1)).as_bytes());
    let report = lesson.check_text(&text);
    let evidence = lesson.evidence(&text, &report.transcripts[0]);
    // `crash` is on the transcript's step line; `recover|replay|found`
    // only on the typed line and in the FAILED verdict ("found NOT_FOUND"),
    // and neither counts.
    assert!(evidence[0].matched());
    assert!(!evidence[1].matched(), "{evidence:?}");
    let text = lesson::normalize(paste(PASSED, 0).as_bytes());
    let report = lesson.check_text(&text);
    let evidence = lesson.evidence(&text, &report.transcripts[0]);
    assert_eq!(
        evidence[1].last_match.as_ref().map(|m| m.text.as_str()),
        Some("Crash drill 1 passed: data recovered from WAL")
    );
}

#[test]
fn another_lessons_transcript_beside_this_ones_is_noted_not_held_against_it() {
    let lesson = lesson();
    let other = with_receipt(
        "w09-l08",
        "fedcba9876543210",
        &PASSED.replace("Crash drill 1", "Crash drill 2"),
    );
    let both = format!("{other}{}", paste(PASSED, 0));
    let report = lesson.check(both.as_bytes());
    assert!(report.passed(), "{:?}", report.failure());
    assert_eq!(
        (report.transcripts.len(), report.other_lessons.len()),
        (1, 1)
    );
    assert_eq!(report.other_lessons[0].receipt.lesson, "w09-l08");
    // Alone, it is another lesson's.
    let report = lesson.check(other.as_bytes());
    assert_eq!(
        report.failure().as_deref(),
        Some("the receipt on line 9 is from lesson w09-l08's drill, not this lesson's")
    );
}

#[test]
fn an_edited_copy_still_carries_its_run_id() {
    let lesson = lesson();
    let edited = paste(PASSED, 0).replace("my_store.py", "bobs_store.py");
    let report = lesson.check(edited.as_bytes());
    assert!(report.receipt_problem.is_some());
    assert_eq!(report.run_ids, ["0123456789abcdef"]);
}

#[test]
fn receipt_checking_stays_linear_and_bounded() {
    let lesson = lesson();
    // 20,000 receipt lines, each claiming to cover every line above it.
    let line = Receipt::issue("w09-l07", "0123456789abcdef", b"x\n").to_string();
    let mut text = String::new();
    for index in 0..20_000 {
        text.push_str(&line.replace("lines=1", &format!("lines={index}")));
        text.push('\n');
    }
    let started = Instant::now();
    let report = lesson.check(text.as_bytes());
    // Far under the seconds a quadratic check takes; generous for a loaded
    // debug build.
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    assert!(!report.passed());
    assert_eq!(report.run_ids.len(), lesson::receipt::MAX_RECEIPTS);
}

#[test]
fn a_scrollback_of_many_runs_verifies() {
    let lesson = lesson();
    let runs: String = (0..12)
        .map(|n| paste(PASSED, 0).replace("0123456789abcdef", &format!("{n:016x}")))
        .map(|text| {
            // Each run its own receipt.
            let body: String = text
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("receipt:"))
                .map(|l| format!("{l}\n"))
                .collect();
            format!(
                "$ ./drill\n{}",
                with_receipt("w09-l07", &format!("{:016x}", text.len()), &body)
            )
        })
        .collect();
    let report = lesson.check(runs.as_bytes());
    assert!(report.passed(), "{:?}", report.failure());
    assert_eq!(report.transcripts.len(), 12);
}

#[test]
fn a_long_line_above_a_wrapped_transcript_does_not_set_the_width() {
    let lesson = lesson();
    let width = 60;
    let wrapped = hard_wrapped(&paste(PASSED, 0), width);
    let text = format!(
        "{}\n{wrapped}",
        "a note the student typed, longer than the terminal ".repeat(3)
    );
    let report = lesson.check(text.as_bytes());
    assert!(report.passed(), "{:?}", report.failure());
}
