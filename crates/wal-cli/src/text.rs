//! Showing arbitrary key and value bytes on a terminal.

use std::fmt::Write;

/// How many characters of a value `wal dump` shows before the ellipsis.
pub const PREVIEW_CHARS: usize = 40;

/// `bytes` as a double-quoted, escaped string of at most `max_chars`
/// characters between the quotes, followed by `…` when cut short.
///
/// Printable UTF-8 stays as it is; `"` and `\` are escaped, control
/// characters are shown as `\n`, `\t` or `\u{..}`, and bytes that are not
/// UTF-8 as `\xNN`. An escape is never split by the cut, so the output can
/// always be read back unambiguously up to the ellipsis.
pub fn quoted_preview(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::from("\"");
    let mut shown = 0;
    for chunk in bytes.utf8_chunks() {
        let pieces = chunk
            .valid()
            .chars()
            .map(escape_char)
            .chain(chunk.invalid().iter().map(|byte| format!("\\x{byte:02x}")));
        for piece in pieces {
            let width = piece.chars().count();
            if shown + width > max_chars {
                out.push_str("\"…");
                return out;
            }
            out.push_str(&piece);
            shown += width;
        }
    }
    out.push('"');
    out
}

/// The whole of `bytes`, quoted and escaped as by [`quoted_preview`].
pub fn quoted(bytes: &[u8]) -> String {
    quoted_preview(bytes, usize::MAX)
}

fn escape_char(c: char) -> String {
    match c {
        '"' => "\\\"".to_string(),
        '\\' => "\\\\".to_string(),
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
        c => c.to_string(),
    }
}

/// `1 record`, `2 records`: a count with its noun.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Lower-case hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// `preallocated: N zero bytes from offset X to the end of the file`, for a
/// clean log whose file runs on past it; `None` otherwise.
pub fn preallocated_line(summary: &wal::Summary) -> Option<String> {
    (summary.damage.is_none() && summary.preallocated > 0).then(|| {
        format!(
            "preallocated: {} from offset {} to the end of the file",
            count(summary.preallocated, "zero byte"),
            summary.valid_len
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_quoted_whole_when_short() {
        assert_eq!(quoted_preview(b"hello world", 40), "\"hello world\"");
        assert_eq!(quoted_preview(b"", 40), "\"\"");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let value = "x".repeat(41);
        assert_eq!(
            quoted_preview(value.as_bytes(), 40),
            format!("\"{}\"…", "x".repeat(40))
        );
        let exact = "y".repeat(40);
        assert_eq!(quoted_preview(exact.as_bytes(), 40), format!("\"{exact}\""));
    }

    #[test]
    fn non_printable_bytes_are_escaped() {
        assert_eq!(
            quoted_preview(b"a\"b\\c\n\x01\xff\xfeok", 40),
            r#""a\"b\\c\n\u{1}\xff\xfeok""#
        );
        assert_eq!(quoted_preview("é€".as_bytes(), 40), "\"é€\"");
    }

    #[test]
    fn an_escape_is_never_split_by_the_cut() {
        assert_eq!(quoted_preview(b"ab\xff", 3), "\"ab\"…");
        assert_eq!(quoted_preview(b"ab\xff", 6), "\"ab\\xff\"");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0, "record"), "0 records");
        assert_eq!(count(1, "record"), "1 record");
        assert_eq!(count(2, "record"), "2 records");
    }

    #[test]
    fn hex_is_lower_case_pairs() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
