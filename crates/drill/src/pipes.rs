//! Reading a store's stdout and stderr on threads, within bounds.
//!
//! A store decides how much it prints, so nothing it prints is kept
//! unbounded: a line is cut at [`MAX_LINE`] bytes (the rest of it read and
//! dropped), stdout lines wait in a channel of a few lines (a store that
//! floods it blocks in its own `write`), and of stderr only the first
//! [`MAX_STDERR_LINES`] lines or [`MAX_STDERR_BYTES`] bytes of each start
//! are kept; the lines after them are counted, and the count is shown.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;

/// The longest line kept, in bytes.
pub const MAX_LINE: usize = 64 << 10;
/// Stderr lines kept per store start.
pub const MAX_STDERR_LINES: usize = 200;
/// Stderr bytes kept per store start.
pub const MAX_STDERR_BYTES: usize = 64 << 10;
/// How much of a line a failure message quotes.
const QUOTED_CHARS: usize = 200;
/// Stdout lines read ahead of the drill.
const STDOUT_QUEUE: usize = 4;

/// One line a store printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its text (lossy UTF-8 for stderr), at most [`MAX_LINE`] bytes.
    pub text: String,
    /// How many bytes after those were dropped.
    pub cut: u64,
}

impl Line {
    /// The line quoted for a failure message: escaped, its first
    /// [`QUOTED_CHARS`] characters only, and said to be cut.
    pub fn quoted(&self) -> String {
        let shown: String = self.text.chars().take(QUOTED_CHARS).collect();
        let quoted = format!("{shown:?}");
        if self.cut == 0 && shown.len() == self.text.len() {
            quoted
        } else if self.cut == 0 {
            format!("{quoted}... (a line of {} bytes)", self.text.len())
        } else {
            format!(
                "{quoted}... (a line of {} bytes, cut at {} KiB)",
                self.text.len() as u64 + self.cut,
                MAX_LINE >> 10
            )
        }
    }
}

/// Reads one line of at most `max` bytes (without its newline); the bytes
/// past `max` are read and counted, not kept. `None` at the end.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<(Vec<u8>, u64)>> {
    let mut kept = Vec::new();
    let mut cut = 0u64;
    let mut any = false;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(any.then_some((kept, cut)));
        }
        any = true;
        let (chunk, newline) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..end], true),
            None => (buffer, false),
        };
        let room = max.saturating_sub(kept.len());
        let keep = chunk.len().min(room);
        kept.extend_from_slice(&chunk[..keep]);
        cut += (chunk.len() - keep) as u64;
        let used = chunk.len() + usize::from(newline);
        reader.consume(used);
        if newline {
            return Ok(Some((kept, cut)));
        }
    }
}

/// The store's stdout, line by line: a line that is not UTF-8 is an error.
pub fn stdout_lines(pipe: impl Read + Send + 'static) -> Receiver<io::Result<Line>> {
    let (sender, receiver) = mpsc::sync_channel(STDOUT_QUEUE);
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        loop {
            let item = match read_line(&mut reader, MAX_LINE) {
                Ok(None) => break,
                Ok(Some((bytes, cut))) => String::from_utf8(bytes)
                    .map(|text| Line { text, cut })
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "stream did not contain valid UTF-8",
                        )
                    }),
                Err(err) => Err(err),
            };
            let failed = item.is_err();
            if sender.send(item).is_err() || failed {
                break;
            }
        }
    });
    receiver
}

/// The store's stderr: the lines kept, and a count of those that were not.
pub struct Stderr {
    pub lines: Receiver<String>,
    pub dropped: Arc<AtomicU64>,
}

/// Reads the store's stderr, keeping the first lines within the caps.
pub fn stderr_lines(pipe: impl Read + Send + 'static) -> Stderr {
    let (sender, receiver) = mpsc::channel();
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&dropped);
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let (mut lines, mut bytes) = (0usize, 0usize);
        loop {
            let room = MAX_STDERR_BYTES.saturating_sub(bytes);
            let text = match read_line(&mut reader, room.min(MAX_LINE)) {
                Ok(None) => break,
                Ok(Some((kept, cut))) if lines < MAX_STDERR_LINES && room > 0 => {
                    lines += 1;
                    bytes += kept.len();
                    let mut text = String::from_utf8_lossy(&kept).into_owned();
                    if cut > 0 {
                        text.push_str(&format!("... ({cut} more bytes of this line not kept)"));
                    }
                    text
                }
                Ok(Some(_)) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(err) => {
                    let _ = sender.send(format!("(error reading stderr: {err})"));
                    break;
                }
            };
            if sender.send(text).is_err() {
                // The drill is done with this store; drain so it never
                // blocks on a full pipe.
                let _ = io::copy(&mut reader, &mut io::sink());
                break;
            }
        }
    });
    Stderr {
        lines: receiver,
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_cut_and_the_rest_counted() {
        let mut text = vec![b'a'; 100];
        text.extend_from_slice(b"\nnext\nlast");
        let mut reader = BufReader::with_capacity(7, &text[..]);
        assert_eq!(
            read_line(&mut reader, 10).unwrap(),
            Some((vec![b'a'; 10], 90))
        );
        assert_eq!(
            read_line(&mut reader, 10).unwrap(),
            Some((b"next".to_vec(), 0))
        );
        assert_eq!(
            read_line(&mut reader, 10).unwrap(),
            Some((b"last".to_vec(), 0))
        );
        assert_eq!(read_line(&mut reader, 10).unwrap(), None);
    }

    #[test]
    fn stderr_keeps_the_first_lines_and_counts_the_rest() {
        let text: String = (0..250).map(|n| format!("line {n}\n")).collect();
        let stderr = stderr_lines(io::Cursor::new(text.into_bytes()));
        let kept: Vec<String> = stderr.lines.iter().collect();
        assert_eq!(kept.len(), MAX_STDERR_LINES);
        assert_eq!(kept.last().map(String::as_str), Some("line 199"));
        assert_eq!(stderr.dropped.load(Ordering::Relaxed), 50);
    }
}
