//! Which store a drill tests: the reference store, or a student's command.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lesson::tested;
use sha2::{Digest, Sha256};

use crate::confine::{Confinement, Limits};
use crate::program::find_program;
use crate::traces::Recorder;

pub use crate::confine::SERVE_FLAG;

/// The store under test: what to run, whether its system calls are
/// recorded for the power-loss check, and what confines it.
#[derive(Debug, Clone)]
pub struct Store {
    pub program: Program,
    recorder: Option<Arc<Recorder>>,
    confinement: Option<Confinement>,
}

/// What runs as the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `wal::KvStore` behind the store protocol, served by the drill binary
    /// itself (`EXE --serve DIR`, the same code as `wal serve DIR`).
    Reference { exe: PathBuf },
    /// A student's store: `words... DIR`.
    Command { words: Vec<String> },
}

/// Why a `--store` command line cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("--store: {0}")]
    Split(String),
    #[error("--store: the command is empty")]
    Empty,
}

impl Store {
    /// The reference store, served by the drill binary `exe`.
    /// It is confined by its own binary, a drill, with the default limits.
    pub fn reference(exe: PathBuf) -> Store {
        Store {
            confinement: Some(Confinement {
                launcher: exe.clone(),
                limits: Limits::default(),
                store_root: None,
            }),
            program: Program::Reference { exe },
            recorder: None,
        }
    }

    /// Splits `--store "CMD ARGS"` into words the way a shell would (quotes
    /// and backslashes honoured; no variables, globs or pipes).
    pub fn from_command_line(text: &str) -> Result<Store, StoreError> {
        let words = shell_words::split(text).map_err(|err| StoreError::Split(err.to_string()))?;
        if words.is_empty() {
            return Err(StoreError::Empty);
        }
        Ok(Store {
            program: Program::Command { words },
            recorder: None,
            confinement: None,
        })
    }

    /// This store run through `confinement`'s launcher, under its limits.
    pub fn confined(self, confinement: Confinement) -> Store {
        Store {
            confinement: Some(confinement),
            ..self
        }
    }

    /// What confines it, if anything.
    pub fn confinement(&self) -> Option<&Confinement> {
        self.confinement.as_ref()
    }

    /// This store with its system calls recorded into `recorder` (when
    /// strace is installed) for the power-loss check.
    pub fn recorded(self, recorder: Arc<Recorder>) -> Store {
        Store {
            recorder: Some(recorder),
            ..self
        }
    }

    /// This store without recording: for the hundreds of restarts of a
    /// sweep, which only read.
    pub fn untraced(&self) -> Store {
        Store {
            recorder: None,
            ..self.clone()
        }
    }

    /// Where this store's system calls go, if they are recorded.
    pub fn recorder(&self) -> Option<&Arc<Recorder>> {
        self.recorder.as_ref()
    }

    /// Whether this is the reference store (whose format the drills know,
    /// and can explain byte by byte).
    pub fn is_reference(&self) -> bool {
        matches!(self.program, Program::Reference { .. })
    }

    /// The program that starts this store on `dir`, and its arguments.
    pub fn program_and_args(&self, dir: &Path) -> (PathBuf, Vec<OsString>) {
        match &self.program {
            Program::Reference { exe } => {
                (exe.clone(), vec![SERVE_FLAG.into(), dir.as_os_str().into()])
            }
            Program::Command { words } => {
                let mut args: Vec<OsString> = words[1..].iter().map(OsString::from).collect();
                args.push(dir.as_os_str().into());
                (PathBuf::from(&words[0]), args)
            }
        }
    }

    /// The words of a `--store` command (none for the reference store).
    pub fn words(&self) -> &[String] {
        match &self.program {
            Program::Reference { .. } => &[],
            Program::Command { words } => words,
        }
    }

    /// The command as the transcript shows it, DIR standing for the
    /// directory.
    pub fn command_line(&self) -> String {
        match &self.program {
            Program::Reference { .. } => tested::REFERENCE_STORE.to_string(),
            Program::Command { words } => {
                format!("{} DIR", crate::escape::shown(&shell_words::join(words)))
            }
        }
    }

    /// The transcript's lines naming the store: the command, then the
    /// SHA-256 of each file it names (the program and, say, the script), so
    /// that a paste says exactly what was tested.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![tested::store_line(&self.command_line())];
        if let Program::Command { words } = &self.program {
            for (index, word) in words.iter().enumerate() {
                let path = if index == 0 {
                    find_program(word)
                } else {
                    Some(PathBuf::from(word)).filter(|path| path.is_file())
                };
                if let Some(path) = path
                    && let Ok(digest) = sha256_of(&path)
                {
                    let shown = crate::escape::path(&path);
                    lines.push(tested::file_line(&hex(&digest), &shown));
                    // Without comments and blank space: a course store with
                    // only its comments changed is still the course's.
                    if let Some(code) = code_of(&path) {
                        lines.push(tested::code_line(&code));
                    }
                }
            }
        }
        lines
    }
}

/// The code fingerprint of the source file at `path` (see
/// `lesson::fingerprint`); `None` for other files and large ones.
pub(crate) fn code_of(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    if meta.len() > lesson::fingerprint::MAX_SOURCE {
        return None;
    }
    let name = path.to_string_lossy();
    let mut bytes = Vec::new();
    io::Read::read_to_end(
        &mut io::Read::take(fs::File::open(path).ok()?, lesson::fingerprint::MAX_SOURCE),
        &mut bytes,
    )
    .ok()?;
    lesson::fingerprint::code_fingerprint(&name, &bytes)
}

/// The SHA-256 of the file at `path` in hex, read as a stream.
pub(crate) fn sha256_hex(path: &Path) -> io::Result<String> {
    sha256_of(path).map(|digest| hex(&digest))
}

/// The SHA-256 of the file at `path`, read as a stream (a named file may
/// be large).
fn sha256_of(path: &Path) -> io::Result<Vec<u8>> {
    let mut hasher = Sha256::new();
    io::copy(&mut fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_a_shell() {
        let store = Store::from_command_line(r#"python3 "my store.py" --fast"#).unwrap();
        assert_eq!(
            store.program,
            Program::Command {
                words: vec!["python3".into(), "my store.py".into(), "--fast".into()]
            }
        );
        let (program, args) = store.program_and_args(Path::new("/tmp/d"));
        assert_eq!(program, Path::new("python3"));
        assert_eq!(args, ["my store.py", "--fast", "/tmp/d"]);
        assert_eq!(store.command_line(), "python3 'my store.py' --fast DIR");
        assert_eq!(
            Store::from_command_line("  ").unwrap_err(),
            StoreError::Empty
        );
        assert!(matches!(
            Store::from_command_line("python3 'unclosed"),
            Err(StoreError::Split(_))
        ));
    }

    #[test]
    fn describe_hashes_the_files_a_command_names() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("store.py");
        fs::write(&script, b"abc").unwrap();
        let store =
            Store::from_command_line(&format!("no-such-program-here '{}'", script.display()))
                .unwrap();
        let lines = store.describe();
        // The store line, the file's line, and its code line (a `.py`
        // without comments or blank space: the same digest).
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[2],
            "    code ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad (without comments and blank space)"
        );
        // SHA-256 of "abc".
        assert_eq!(
            lines[1],
            format!(
                "  sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  {}",
                script.display()
            )
        );
        assert!(lines[2].starts_with("    code "), "{lines:?}");
    }
}
