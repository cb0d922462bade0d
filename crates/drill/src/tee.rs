//! Recording a drill's transcript for its receipt (see `lesson::receipt`).

use std::io::{self, Write};

/// Passes every write through to `out` and keeps a copy of what was written.
pub(crate) struct Tee<'a> {
    out: &'a mut dyn Write,
    pub(crate) recorded: Vec<u8>,
}

impl<'a> Tee<'a> {
    pub(crate) fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            recorded: Vec::new(),
        }
    }
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.recorded.extend_from_slice(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
