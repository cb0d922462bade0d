//! Output is normalised before matching: ANSI escapes removed, CRLF turned
//! into LF, invalid UTF-8 replaced; and reading it is capped.

use std::path::Path;

use lesson::{Lesson, OUTPUT_LIMIT, OutputError, normalize, read_limited};

#[test]
fn removes_colours_and_keeps_text() {
    assert_eq!(
        normalize(b"\x1b[1;32mCrash drill 1 passed\x1b[0m: ok\n"),
        "Crash drill 1 passed: ok\n"
    );
    assert_eq!(normalize("\u{9b}31mred\u{9b}0m\n".as_bytes()), "red\n");
}

#[test]
fn removes_hyperlinks_titles_and_short_sequences() {
    let raw = b"\x1b]8;;https://x.test\x07link\x1b]8;;\x1b\\ \x1b(Bplain\x1b7\x1b[?25l\n";
    assert_eq!(normalize(raw), "link plain\n");
}

#[test]
fn an_unterminated_control_string_stops_at_the_line_end() {
    assert_eq!(normalize(b"a\x1b]0;title\nb\n"), "a\nb\n");
}

#[test]
fn crlf_becomes_lf_and_a_lone_cr_stays() {
    assert_eq!(normalize(b"a\r\nb\rc\r\n"), "a\nb\rc\n");
}

#[test]
fn invalid_utf8_is_replaced_and_a_bom_dropped() {
    assert_eq!(
        normalize(b"\xef\xbb\xbfok \xff\xfe!"),
        "ok \u{fffd}\u{fffd}!"
    );
}

fn lesson(patterns: &str) -> Lesson {
    let text = format!(
        "---\nid: l\ntitle: t\norder: 1\nduration_minutes: 1\nxp: 1\nkind: lesson\npart: p\nproof:\n  type: paste\n  instructions: i\n  regex_patterns: {patterns}\n---\n"
    );
    Lesson::parse(Path::new("l.md"), &text).unwrap()
}

#[test]
fn check_matches_through_ansi_crlf_and_invalid_utf8() {
    let lesson = lesson("['^Crash drill 1 passed$', '^data recovered$', 'caf. ok']");
    let paste = b"\x1b[32mCrash drill 1 passed\x1b[0m\r\ndata recovered\r\ncaf\xe9 ok\r\n";
    let report = lesson.check(paste);
    assert!(report.passed(), "{report:?}");
    let second = report.patterns[1].first_match.as_ref().unwrap();
    assert_eq!((second.number, second.text.as_str()), (2, "data recovered"));
    assert_eq!(report.missing().count(), 0);
}

#[test]
fn read_limited_accepts_the_limit_and_refuses_one_byte_more() {
    assert_eq!(read_limited(&b"12345"[..], 5).unwrap(), b"12345");
    assert!(matches!(
        read_limited(&b"123456"[..], 5),
        Err(OutputError::TooLarge { limit: 5 })
    ));
}

#[test]
fn oversized_input_is_refused_without_reading_it_all() {
    // An endless reader: only a reader that stops at the cap can return.
    let endless = std::io::repeat(b'x');
    let error = read_limited(endless, OUTPUT_LIMIT).unwrap_err();
    assert_eq!(error.to_string(), "output exceeded 16 MiB");
}
