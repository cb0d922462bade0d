//! Lines on standard error that never take `wal` down.

use std::fmt;
use std::io::Write;

/// Writes one line to stderr. A stderr that cannot take it (a full disk, a
/// closed pipe) loses the line and nothing else: `eprintln!` would panic,
/// after the work was done, and turn a success into a crash. The exit code
/// still says how the command went.
pub fn note(line: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}
