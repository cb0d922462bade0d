//! `store.toml`: how a student's repository builds and runs its store.
//!
//! ```toml
//! # store.toml, at the root of the repository
//! build = "make"              # optional: run in the repository by `sh -c`
//! run = "./kvstore"           # the --store command, relative to the repository
//! ```
//!
//! `checker run` uses the manifest of the current folder when `--store` is
//! not given, and `checker run --class` the one of each student's folder.
//! Unknown keys are errors naming their line, so a typo (`buid`) is never a
//! silently skipped build.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file name of a store manifest.
pub const FILE: &str = "store.toml";

/// The most a manifest may hold: it is two short lines.
const MAX_BYTES: u64 = 64 * 1024;

/// A store manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The build command, run by `sh -c` in the repository; none when the
    /// store needs no build (a Python store).
    pub build: Option<String>,
    /// The `--store` command: split like a shell would, run in the
    /// repository, the store's directory appended.
    pub run: String,
}

/// Why a manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest's path.
    pub path: PathBuf,
    /// The line (from 1) the problem is on, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Read the manifest in `folder`; `Ok(None)` when there is none.
    pub fn find(folder: &Path) -> Result<Option<Self>, ManifestError> {
        let path = folder.join(FILE);
        match std::fs::symlink_metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(problem(&path, None, error.to_string())),
            Ok(meta) if !meta.is_file() => {
                return Err(problem(&path, None, "not a regular file".into()));
            }
            Ok(meta) if meta.len() > MAX_BYTES => {
                return Err(problem(&path, None, format!("over {MAX_BYTES} bytes")));
            }
            Ok(_) => {}
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|error| problem(&path, None, error.to_string()))?;
        Self::parse(&path, &text).map(Some)
    }

    /// Parse manifest `text`; `path` is for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let manifest: Self = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
            let message = error.message().trim().to_owned();
            problem(path, line, message)
        })?;
        if manifest.run.trim().is_empty() {
            return Err(problem(
                path,
                None,
                "`run` is empty: name the store's command".into(),
            ));
        }
        shell_words::split(&manifest.run).map_err(|error| {
            problem(
                path,
                None,
                format!("`run` cannot be split into words: {error}"),
            )
        })?;
        Ok(manifest)
    }
}

fn problem(path: &Path, line: Option<usize>, message: String) -> ManifestError {
    ManifestError {
        path: path.to_owned(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_parses_and_a_bad_one_names_its_line() {
        let path = Path::new("alice/store.toml");
        assert_eq!(
            Manifest::parse(path, "build = \"make\"\nrun = \"./kvstore\"\n").unwrap(),
            Manifest {
                build: Some("make".into()),
                run: "./kvstore".into()
            }
        );
        assert_eq!(
            Manifest::parse(path, "run = \"python3 kv.py\"\n")
                .unwrap()
                .build,
            None
        );
        let typo = Manifest::parse(path, "run = \"./kv\"\n\nbuid = \"make\"\n").unwrap_err();
        assert_eq!(typo.line, Some(3), "{typo}");
        assert!(
            typo.to_string()
                .starts_with("alice/store.toml:3: unknown field `buid`"),
            "{typo}"
        );
        let missing = Manifest::parse(path, "build = \"make\"\n").unwrap_err();
        assert!(
            missing.to_string().contains("missing field `run`"),
            "{missing}"
        );
        let quote = Manifest::parse(path, "run = \"./kv 'unclosed\"\n").unwrap_err();
        assert!(quote.to_string().contains("cannot be split"), "{quote}");
    }
}
