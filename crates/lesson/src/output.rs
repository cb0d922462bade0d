//! Reading program output under a size cap, and normalising it before matching.
//!
//! Students paste from terminals, Windows editors and CI logs. The same run can
//! therefore arrive with colour codes, CRLF line ends or bytes that are not
//! UTF-8. Matching works on one canonical text so that a pattern written
//! against the plain output also matches every one of those variants.

use std::io::Read;

use crate::error::OutputError;

/// The largest output or paste this crate accepts: 16 MiB.
///
/// A drill that prints more than this is broken, and a paste this large is not
/// a paste. The cap also bounds memory: readers never hold more than this.
pub const OUTPUT_LIMIT: usize = 16 * 1024 * 1024;

/// Read everything from `reader`, refusing more than `limit` bytes.
///
/// At most `limit + 1` bytes are read and held: one byte past the limit is
/// enough to know the input is too large.
pub fn read_limited(reader: impl Read, limit: usize) -> Result<Vec<u8>, OutputError> {
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(OutputError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Turn raw program output into the text that patterns are matched against.
///
/// - invalid UTF-8 sequences become U+FFFD (the replacement character);
/// - a leading byte-order mark is dropped;
/// - ANSI escape sequences (colours, cursor movement, hyperlinks, titles) are
///   removed: CSI (`ESC [` … final byte, or the one-byte C1 form U+009B),
///   OSC/DCS/SOS/PM/APC strings (`ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _`,
///   up to BEL or `ESC \`, and never past the end of the line), and the short
///   `ESC` + one or more intermediate bytes + final byte forms;
/// - CRLF becomes LF. A lone CR is kept.
pub fn normalize(output: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(output);
    let decoded = decoded.strip_prefix('\u{FEFF}').unwrap_or(&decoded);
    let mut text = String::with_capacity(decoded.len());
    let mut chars = decoded.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_control_string(&mut chars);
                }
                Some(' '..='/') => {
                    // nF sequences such as `ESC ( B` (select character set).
                    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
                    chars.next_if(|c| matches!(c, '0'..='~'));
                }
                Some('0'..='~') => {
                    // Two-character sequences such as `ESC 7` or `ESC =`.
                    chars.next();
                }
                // A lone ESC (or ESC before a line end) carries nothing.
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\r' if chars.peek() == Some(&'\n') => {}
            c => text.push(c),
        }
    }
    text
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Skip the rest of a CSI sequence: parameter bytes, intermediate bytes, and
/// the final byte. A malformed sequence ends at the first byte that cannot be
/// part of it, which is kept.
fn skip_csi(chars: &mut Chars<'_>) {
    while chars.next_if(|c| matches!(c, '0'..='?')).is_some() {}
    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
    chars.next_if(|c| matches!(c, '@'..='~'));
}

/// Skip a control string up to its terminator (BEL, `ESC \` or U+009C). An
/// unterminated string stops before the next line end so that a stray
/// `ESC ]` cannot swallow the rest of a paste.
fn skip_control_string(chars: &mut Chars<'_>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\n' | '\r' => return,
            '\u{7}' | '\u{9c}' => {
                chars.next();
                return;
            }
            '\u{1b}' => {
                chars.next();
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {
                chars.next();
            }
        }
    }
}
