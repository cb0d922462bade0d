//! A line of a paste, shown: its number and its text, cut to a window
//! around what was found on it. Shared by matching, receipts and verdicts.

/// Matched lines in reports are cut to about this many characters around the
/// match (cuts marked with `…`) so a single enormous line cannot flood a
/// report, while the match itself always shows.
pub const LINE_TEXT_LIMIT: usize = 200;

/// The line of `text` starting at byte `start`, shown around byte `at` (a
/// match in it): numbered from 1, and cut to a window of about
/// [`LINE_TEXT_LIMIT`] characters around `at` when it is longer.
pub(crate) fn line_at(text: &str, start: usize, at: usize) -> MatchedLine {
    let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
    let line = &text[start..end];
    MatchedLine {
        number: 1 + text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        text: window(line, line[..at - start].chars().count()),
    }
}

/// `line` whole when short, else [`LINE_TEXT_LIMIT`] characters of it that
/// start a little before character `at`, with `…` where it was cut.
fn window(line: &str, at: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= LINE_TEXT_LIMIT {
        return line.to_owned();
    }
    let first = at
        .saturating_sub(LINE_TEXT_LIMIT / 4)
        .min(chars.len() - LINE_TEXT_LIMIT);
    let last = first + LINE_TEXT_LIMIT;
    let mut shown = String::new();
    if first > 0 {
        shown.push('…');
    }
    shown.extend(&chars[first..last]);
    if last < chars.len() {
        shown.push('…');
    }
    shown
}

/// A line of output: its number (from 1) and its text, cut to a window of
/// [`LINE_TEXT_LIMIT`] characters around what was found on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedLine {
    /// Line number, counting from 1.
    pub number: usize,
    /// The whole line (without its line end), cut if very long.
    pub text: String,
}
