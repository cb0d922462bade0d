//! The real lesson documents parse, and their own example outputs pass their
//! own proofs (but not when pasted as if they were a run).

use std::path::PathBuf;

use lesson::Lesson;

fn load(id: &str) -> Lesson {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "lessons",
        id,
        "lesson.md",
    ]
    .iter()
    .collect();
    Lesson::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

fn assert_examples_pass(id: &str) {
    let lesson = load(id);
    assert_eq!(lesson.frontmatter.id, id);
    let examples = lesson.expected_outputs();
    assert!(!examples.is_empty(), "{id} quotes no Expected output");
    for example in examples {
        let report = lesson.check_example(example.text);
        assert!(
            report.passed(),
            "{id}: {example:?} fails its own proof: {report:?}"
        );
        // Pasted alone, the same text is an echo of the lesson, not a run.
        let pasted = lesson.check(format!("{}\nexit code: 0\n", example.text).as_bytes());
        let failure = pasted.failure().expect("an echo does not pass");
        assert!(
            failure.contains("matches only text copied from the lesson itself"),
            "{failure}"
        );
    }
}

#[test]
fn the_real_lessons_parse_and_their_examples_pass() {
    for (id, order, binary) in [
        ("w09-l07", 7, "test_crash_after_wal"),
        ("w09-l08", 8, "test_crash_mid_write"),
    ] {
        assert_examples_pass(id);
        let lesson = load(id);
        let fm = &lesson.frontmatter;
        assert_eq!((fm.part.as_str(), fm.order), ("w09", order));
        assert!(lesson.section("Verify").unwrap().text.contains(binary));
    }
}

#[test]
fn a_failing_paste_of_a_real_lesson_fails() {
    let lesson = load("w09-l07");
    let paste = "thread 'main' panicked at src/main.rs:9:5:\nassertion failed: crash drill: key not recovered\n";
    let report = lesson.check(paste.as_bytes());
    assert!(
        report.patterns.iter().all(|p| p.matched()),
        "the regexes alone would pass"
    );
    assert!(!report.passed());
}
