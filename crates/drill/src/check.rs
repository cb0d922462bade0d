//! Checks and the error a failed one becomes.

use std::fmt::Display;
use std::io;

/// Why a drill stopped. Every message says what was expected and what was
/// found, so that the `FAILED: ...` line explains itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A check found something other than what it expected; `why`, when
    /// known, names the likely defect in a sentence the student can act on.
    #[error("{what}: expected {expected}, found {found}{}", likely(why))]
    Check {
        what: String,
        expected: String,
        found: String,
        why: Option<String>,
    },
    /// An operation the drill relies on returned an error.
    #[error("{doing}: expected success, found error: {error}")]
    Operation {
        doing: String,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The drill's own output could not be written (a closed pipe, say).
    #[error("writing the drill's output: {0}")]
    Output(#[source] io::Error),
}

fn likely(why: &Option<String>) -> String {
    why.as_ref()
        .map_or_else(String::new, |why| format!(". Likely defect: {why}"))
}

/// Result with the drill [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Fails with [`Error::Check`] unless `holds`.
///
/// `expected` and `found` are only formatted; pass what reads best in the
/// `FAILED` line (a value, or a phrase such as `nothing`).
pub fn expect(what: &str, holds: bool, expected: impl Display, found: impl Display) -> Result<()> {
    check(what, holds, expected, found, None)
}

/// [`expect`], naming the likely defect when the check fails.
pub fn expect_because(
    what: &str,
    holds: bool,
    expected: impl Display,
    found: impl Display,
    why: impl Display,
) -> Result<()> {
    check(what, holds, expected, found, Some(why.to_string()))
}

fn check(
    what: &str,
    holds: bool,
    expected: impl Display,
    found: impl Display,
    why: Option<String>,
) -> Result<()> {
    if holds {
        Ok(())
    } else {
        Err(Error::Check {
            what: what.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
            why,
        })
    }
}

/// Fails with [`Error::Check`] unless `found == expected`.
pub fn expect_eq<T: PartialEq + Display>(what: &str, expected: T, found: T) -> Result<()> {
    expect(what, found == expected, &expected, &found)
}

/// Names the operation behind an error: `store.recover().doing("recover the
/// store")?` fails with `recover the store: expected success, found error: ...`.
pub trait Doing<T> {
    fn doing(self, what: impl Into<String>) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Doing<T> for std::result::Result<T, E> {
    fn doing(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|error| Error::Operation {
            doing: what.into(),
            error: Box::new(error),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_checks_return_ok() {
        assert!(expect("x", true, "a", "b").is_ok());
        assert!(expect_eq("records", 5, 5).is_ok());
    }

    #[test]
    fn failed_check_says_expected_and_found() {
        let err = expect_eq("records replayed", 5, 4).unwrap_err();
        assert_eq!(err.to_string(), "records replayed: expected 5, found 4");
        let err = expect("get(k)", false, "\"v\"", "nothing").unwrap_err();
        assert_eq!(err.to_string(), "get(k): expected \"v\", found nothing");
        let err = expect_because("GET k", false, "VALUE v", "NOT_FOUND", "no replay").unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET k: expected VALUE v, found NOT_FOUND. Likely defect: no replay"
        );
    }

    #[test]
    fn failed_operation_names_what_it_was_doing() {
        let failed: std::result::Result<(), io::Error> =
            Err(io::Error::new(io::ErrorKind::NotFound, "no such file"));
        let err = failed.doing("open the WAL").unwrap_err();
        assert_eq!(
            err.to_string(),
            "open the WAL: expected success, found error: no such file"
        );
    }
}
