//! Store text, made inert before it reaches the transcript.
//!
//! Everything a store says (its `READY` text, stderr, `ERR` messages, the
//! names of its files) is shown escaped with the rule `checker`'s reports
//! apply: control characters, and the bidirectional overrides that reorder
//! what a terminal shows, become `\u{1b}`. So a store cannot clear the
//! screen, set the clipboard or a title, and a newline in a file name cannot
//! start a transcript line that the receipt would then vouch for. The rule
//! lives in `lesson` ([`lesson::escaped`]), which the checker uses too.

use std::borrow::Cow;
use std::path::Path;

/// `text` with every control character and bidirectional override escaped
/// as `\u{HEX}` (the rule is `lesson::escaped`, shared with `checker`).
pub fn shown(text: &str) -> Cow<'_, str> {
    lesson::escaped(text, &[])
}

/// A path as the transcript shows it: lossy UTF-8, escaped.
pub fn path(path: &Path) -> String {
    shown(&path.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_escaped() {
        assert_eq!(shown("plain text é"), "plain text é");
        assert_eq!(
            shown("a\nb\x1b]52;c;aGk=\x07\u{202e}z\u{9b}"),
            "a\\u{a}b\\u{1b}]52;c;aGk=\\u{7}\\u{202e}z\\u{9b}"
        );
        assert_eq!(path(Path::new("d/x\ny")), "d/x\\u{a}y");
    }
}
