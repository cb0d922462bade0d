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
fn crlf_becomes_lf_and_a_lone_cr_overwrites_its_line() {
    // A terminal capture: the progress line keeps the last text written.
    assert_eq!(normalize(b"a\r\nb\rc\r\n"), "a\nc\n");
    assert_eq!(
        normalize(b"step 1\n 10%\r 50%\r100%\ndone\r\r\n"),
        "step 1\n100%\ndone\n"
    );
}

#[test]
fn lone_crs_are_line_ends_where_there_is_no_lf() {
    // Old Mac editors: the whole paste on "one line" for a LF reader.
    assert_eq!(
        normalize(b"Crash drill 1 passed\rFAILED: x\r"),
        "Crash drill 1 passed\nFAILED: x\n"
    );
}

#[test]
fn utf16_with_a_bom_is_decoded() {
    let text = "Crash drill 1 passed\r\nexit code: 0\r\n";
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    for bytes in [&le, &be] {
        assert_eq!(normalize(bytes), "Crash drill 1 passed\nexit code: 0\n");
        assert_eq!(lesson::not_text(bytes), None);
    }
    // An odd trailing byte is replaced, not dropped silently.
    let mut odd = le.clone();
    odd.push(b'x');
    assert!(normalize(&odd).ends_with('\u{fffd}'));
}

#[test]
fn files_that_are_not_text_say_what_they_look_like() {
    for (bytes, what) in [
        (&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], "a PNG image"),
        (b"\xFF\xD8\xFF\xE0\0\x10JFIF", "a JPEG image"),
        (b"%PDF-1.7\n", "a PDF document"),
        (
            b"PK\x03\x04\x14\0",
            "a ZIP archive (or a .docx/.xlsx/.jar file)",
        ),
        (b"RIFF\x10\0\0\0WEBPVP8 ", "a WebP image"),
    ] {
        assert_eq!(lesson::not_text(bytes), Some(what));
    }
    assert!(lesson::not_text(b"ok\0ok").unwrap().contains("NUL bytes"));
    assert_eq!(lesson::not_text(b"Crash drill 1 passed\n"), None);
    assert_eq!(lesson::not_text("é ✓\n".as_bytes()), None);
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
    let second = report.patterns[1].last_match.as_ref().unwrap();
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
