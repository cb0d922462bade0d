//! Matching rules: every pattern somewhere, case-insensitive, multi-line,
//! the last matching line reported, failed runs detected.

use lesson::{ProofMatcher, find_failed_run};

fn matcher(patterns: &[&str]) -> ProofMatcher {
    ProofMatcher::new(patterns).unwrap()
}

#[test]
fn reports_the_last_matching_line_of_each_pattern() {
    // A drill's first match is its set-up, its last the verdict.
    let text = "store: READY replayed 0\nb recovered\nc recover, replay twice\nCrash drill 1 passed: data recovered\n";
    let results = matcher(&["recover|replay", "missing", "b", "replay"]).match_patterns(text);
    let found: Vec<Option<(usize, &str)>> = results
        .iter()
        .map(|r| r.last_match.as_ref().map(|m| (m.number, m.text.as_str())))
        .collect();
    assert_eq!(
        found,
        [
            Some((4, "Crash drill 1 passed: data recovered")),
            None,
            Some((2, "b recovered")),
            Some((3, "c recover, replay twice")),
        ]
    );
    assert_eq!(results[0].pattern, "recover|replay");
    // Without a line end after the last line, too.
    let last = &matcher(&["recover"]).match_patterns("recover one\nrecover two")[0];
    assert_eq!(last.last_match.as_ref().unwrap().number, 2);
}

#[test]
fn patterns_are_case_insensitive_unless_they_opt_out() {
    let m = matcher(&["crash drill", "(?-i)Passed"]);
    let results = m.match_patterns("CRASH DRILL 1 PASSED\n");
    assert!(results[0].matched());
    assert!(!results[1].matched());
    assert!(
        m.match_patterns("Crash drill 1 Passed\n")
            .iter()
            .all(|r| r.matched())
    );
}

#[test]
fn anchors_match_at_line_ends() {
    let m = matcher(&["^5 records recovered$"]);
    let result = &m.match_patterns("start\n5 records recovered\nend\n")[0];
    assert_eq!(result.last_match.as_ref().unwrap().number, 2);
    assert!(!m.match_patterns("x 5 records recovered\n")[0].matched());
}

#[test]
fn long_lines_are_cut_in_reports() {
    let line = format!("hit {}", "é".repeat(500));
    let result = &matcher(&["hit"]).match_patterns(&line)[0];
    let text = &result.last_match.as_ref().unwrap().text;
    assert_eq!(text.chars().count(), lesson::LINE_TEXT_LIMIT + 1);
    assert!(text.ends_with('…'));

    // A match far into a long line shows, with the cut marked on both sides.
    let line = format!("{} recovered {}", "x".repeat(400), "y".repeat(400));
    let text = matcher(&["recovered"]).match_patterns(&line)[0]
        .last_match
        .clone()
        .unwrap()
        .text;
    assert!(text.contains(" recovered "), "{text}");
    assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
    assert_eq!(text.chars().count(), lesson::LINE_TEXT_LIMIT + 2);
}

/// The shell's exit code under a drill's failed verdict decides, and the
/// verdict, which says what went wrong, is quoted with it; only the final
/// line right above counts.
#[test]
fn a_failed_drill_verdict_is_quoted_with_the_exit_code_under_it() {
    let run = "[4/6] restart\nFAILED: GET k: expected VALUE v, found NOT_FOUND\nreceipt: w09-l07 run=0123456789abcdef\n$ echo \"exit code: $?\"\nexit code: 1\n";
    let failed = find_failed_run(run).unwrap();
    assert_eq!(failed.rule.name, "exit code");
    assert_eq!(
        failed.to_string(),
        "failed run: line 5: exit code: 1 (the drill's verdict, line 2: FAILED: GET k: expected VALUE v, found NOT_FOUND)"
    );
    // An older run's verdict, an exit code away, is not this run's.
    let older = format!("{run}$ ./again\nexit code: 2\n");
    assert_eq!(find_failed_run(&older).unwrap().verdict, None);
    // A passing count above the exit code is no verdict to quote.
    let count = find_failed_run("FAILED: 0\nexit code: 1\n").unwrap();
    assert_eq!(count.to_string(), "failed run: line 2: exit code: 1");
}

#[test]
fn failed_runs_are_found_and_successes_are_not() {
    let panic = find_failed_run("ok\nthread 'main' panicked at src/main.rs:3:5:\n").unwrap();
    assert_eq!(panic.rule.name, "rust panic");
    assert_eq!(panic.line.number, 2);

    let exit = find_failed_run("recovered\nexit code: 101\n").unwrap();
    assert_eq!(exit.rule.name, "exit code");
    assert_eq!(exit.to_string(), "failed run: line 2: exit code: 101");
    assert!(find_failed_run("Exit Code 1\n").is_some());
    assert!(find_failed_run("exit code: -1\n").is_some());

    let cargo = "error: process didn't exit successfully: `target/debug/drill` (signal: 9, SIGKILL: kill)\n";
    assert_eq!(find_failed_run(cargo).unwrap().rule.name, "cargo run");

    let check = find_failed_run("[4/6] recovered\nFAILED: get(k): expected \"v\", found nothing\n")
        .unwrap();
    assert_eq!(check.rule.name, "drill verdict");
    assert_eq!(check.line.number, 2);
    assert_eq!(check.verdict, None, "the verdict decided: quoted once");
    let assertion = "test: test.cc:12: int main(): Assertion `store.get(\"k\")' failed.\n";
    assert_eq!(find_failed_run(assertion).unwrap().rule.name, "c assert");

    for success in [
        "5 records recovered, 1 partial record skipped, exit code 0\n",
        "0 checks FAILED: none\n",
        "exit code: 0\nexit code: 00\n",
        "$ echo \"exit code: $?\"\nexit code: 0\n",
        "no exit codes here\n",
    ] {
        assert_eq!(find_failed_run(success), None, "{success:?}");
    }
}

#[test]
fn invalid_patterns_are_refused() {
    assert!(ProofMatcher::new(&["(unclosed"]).is_err());
    assert_eq!(
        matcher(&["a", "b"]).patterns().collect::<Vec<_>>(),
        ["a", "b"]
    );
}
