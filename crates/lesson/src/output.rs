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
/// - UTF-16 (LE or BE) with a byte-order mark is decoded (Windows Notepad's
///   "Unicode"); a UTF-8 byte-order mark is dropped;
/// - invalid UTF-8 sequences become U+FFFD (the replacement character);
/// - ANSI escape sequences (colours, cursor movement, hyperlinks, titles) are
///   removed: CSI (`ESC [` … final byte, or the one-byte C1 form U+009B),
///   OSC/DCS/SOS/PM/APC strings (`ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _`,
///   up to BEL or `ESC \`, and never past the end of the line), and the short
///   `ESC` + one or more intermediate bytes + final byte forms;
/// - CRLF becomes LF. A lone CR is a line end in a text with no LF at all
///   (old Mac editors); elsewhere it is a terminal returning to the start of
///   the line to overwrite it (progress bars), and the line keeps the last
///   text written on it.
pub fn normalize(output: &[u8]) -> String {
    let decoded = decode(output);
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
    resolve_carriage_returns(text)
}

/// The text of `output`: UTF-16 when a byte-order mark says so, otherwise
/// UTF-8 with invalid sequences replaced.
fn decode(output: &[u8]) -> std::borrow::Cow<'_, str> {
    let utf16 = |rest: &[u8], from: fn([u8; 2]) -> u16| {
        let units = rest.chunks(2).map(|pair| match pair {
            [a, b] => from([*a, *b]),
            _ => 0xFFFD, // an odd byte at the end
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
            .into()
    };
    match output {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8_lossy(output),
    }
}

/// `text` with control characters, the bidirectional overrides that can
/// reorder what a terminal shows, and the noncharacters U+FFFE and U+FFFF
/// (which XML cannot hold) escaped as `\u{1b}`, except the controls in
/// `keep` (`\n` in multi-line output). The one rule for everything a
/// student's store or paste puts in front of a reader: the drills'
/// transcripts and the checker's reports.
pub fn escaped<'a>(text: &'a str, keep: &[char]) -> std::borrow::Cow<'a, str> {
    let escape = |c: char| {
        !keep.contains(&c)
            && (c.is_control()
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
                || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    if !text.chars().any(escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            shown.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// Apply the lone-CR rule of [`normalize`] to text whose CRLFs are already LF.
fn resolve_carriage_returns(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    if !text.contains('\n') {
        return text.replace('\r', "\n");
    }
    let mut resolved = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        // The last text written over the line; a trailing CR writes nothing.
        let last = body.split('\r').rev().find(|part| !part.is_empty());
        resolved.push_str(last.unwrap_or(""));
        resolved.push_str(end);
    }
    resolved
}

/// What `output` looks like when it is not text: a known image, document or
/// archive signature, or NUL bytes (outside UTF-16 with a byte-order mark).
/// `None` for text. Grading such a file would only produce nonsense, so it
/// is refused with this description.
pub fn not_text(output: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"%PDF-", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or a .docx/.xlsx/.jar file)"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"),
        (b"Rar!\x1A\x07", "a RAR archive"),
        (b"\x7FELF", "an ELF executable"),
    ];
    if let Some((_, what)) = SIGNATURES
        .iter()
        .find(|(magic, _)| output.starts_with(magic))
    {
        return Some(what);
    }
    if output.starts_with(b"RIFF") && output.get(8..12) == Some(b"WEBP") {
        return Some("a WebP image");
    }
    let utf16 = output.starts_with(&[0xFF, 0xFE]) || output.starts_with(&[0xFE, 0xFF]);
    (!utf16 && output.contains(&0))
        .then_some("binary data: it holds NUL bytes (UTF-16 text needs a byte-order mark)")
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
