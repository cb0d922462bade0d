//! The store protocol, version 1: how a crash drill talks to a key-value
//! store it did not write.
//!
//! A drill runs the store under test as a child process (`CMD... DIR`, DIR
//! appended as the last argument), waits for the line `READY`, then sends one
//! request per line on the store's stdin and reads one reply per line from its
//! stdout. The full specification, with an example session, is
//! `docs/store-protocol.md`; this crate is its one implementation in Rust:
//!
//! * [`Request`] and [`Reply`]: the grammar, parsed and printed in one place,
//!   so that the tester (in `crates/drill`) and the reference store agree
//!   byte for byte;
//! * [`serve`]: the reference store, `wal::KvStore` behind the protocol. The
//!   drills run it by default, and `wal serve DIR` runs it by hand.
//!
//! # Why a line protocol
//!
//! The lessons ask students to build their own store, in C++, Rust, Python or
//! Go. A drill that links our store proves only that our store works; a drill
//! that drives a process over stdin/stdout tests whatever the student built,
//! the way CodeCrafters' testers do. Lines of ASCII words keep a store's side
//! of it to a `readline`, a `split` and a `print` with a flush.

mod serve;

use std::fmt;

/// Bytes found in every program that holds the reference store (`wal
/// serve`, a drill binary): a drill that finds them in the executable that
/// answered it knows that a `--store` command only wrapped the reference
/// store. A student's own store holds them only if it is built from this
/// crate, which makes it the reference store too.
pub const REFERENCE_MARK: &str = "store-protocol reference store: 5c1e0b7d9a2f";

pub use serve::{Ending, LOG_FILE, serve};

/// The first line a store prints once it has recovered; text after
/// `READY ` is free (the transcript shows it).
pub const READY: &str = "READY";

/// The longest key or value, in bytes.
pub const MAX_TOKEN_LEN: usize = 64;

/// One request line, as the tester sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `PUT k v`: log (durably) then apply; reply `OK`.
    Put { key: String, value: String },
    /// `DEL k`: log the removal (durably) then apply; reply `OK`.
    Del { key: String },
    /// `GET k`: reply `VALUE v` or `NOT_FOUND`.
    Get { key: String },
    /// `WALPUT k v`: log (durably) but do not apply; reply `OK`. The
    /// lesson's "bypass the normal put path".
    WalPut { key: String, value: String },
    /// `CRASH`: exit at once without cleanup; no reply.
    Crash,
}

/// One reply line, as the store prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Value(String),
    NotFound,
    Err(String),
}

/// Why a line is not a valid request or reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("unknown command {0:?} (expected PUT, DEL, GET, WALPUT or CRASH)")]
    UnknownCommand(String),
    #[error("{command} takes {expected}, found {found} word(s)")]
    Arity {
        command: &'static str,
        expected: &'static str,
        found: usize,
    },
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("not a reply: {0:?} (expected OK, VALUE v, NOT_FOUND or ERR message)")]
    NotAReply(String),
}

/// Why a word cannot be a key or a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("empty key or value")]
    Empty,
    #[error("{0:?} is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong(String),
    #[error("{0:?} holds a byte that is not printable ASCII without spaces")]
    NotPrintable(String),
}

/// Checks that `token` can be a key or a value: 1 to [`MAX_TOKEN_LEN`]
/// printable ASCII characters, no spaces.
pub fn check_token(token: &str) -> Result<(), TokenError> {
    if token.is_empty() {
        Err(TokenError::Empty)
    } else if token.len() > MAX_TOKEN_LEN {
        Err(TokenError::TooLong(token.to_string()))
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        Err(TokenError::NotPrintable(token.to_string()))
    } else {
        Ok(())
    }
}

impl Request {
    /// Parses one request line (without its line end).
    pub fn parse(line: &str) -> Result<Request, ParseError> {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some((&command, args)) = words.split_first() else {
            return Err(ParseError::Empty);
        };
        let arity = |name: &'static str, expected: &'static str, wanted: usize| {
            if args.len() == wanted {
                args.iter().try_for_each(|word| check_token(word))?;
                Ok(())
            } else {
                Err(ParseError::Arity {
                    command: name,
                    expected,
                    found: args.len(),
                })
            }
        };
        let word = |index: usize| args[index].to_string();
        match command {
            "PUT" => arity("PUT", "a key and a value", 2).map(|()| Request::Put {
                key: word(0),
                value: word(1),
            }),
            "WALPUT" => arity("WALPUT", "a key and a value", 2).map(|()| Request::WalPut {
                key: word(0),
                value: word(1),
            }),
            "DEL" => arity("DEL", "a key", 1).map(|()| Request::Del { key: word(0) }),
            "GET" => arity("GET", "a key", 1).map(|()| Request::Get { key: word(0) }),
            "CRASH" => arity("CRASH", "no arguments", 0).map(|()| Request::Crash),
            other => Err(ParseError::UnknownCommand(other.to_string())),
        }
    }

    /// Whether the store must make this request durable before its `OK`.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Request::Put { .. } | Request::Del { .. } | Request::WalPut { .. }
        )
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Put { key, value } => write!(f, "PUT {key} {value}"),
            Request::Del { key } => write!(f, "DEL {key}"),
            Request::Get { key } => write!(f, "GET {key}"),
            Request::WalPut { key, value } => write!(f, "WALPUT {key} {value}"),
            Request::Crash => f.write_str("CRASH"),
        }
    }
}

impl Reply {
    /// Parses one reply line (without its line end; a trailing CR is
    /// ignored, so a store that prints CRLF still speaks the protocol).
    pub fn parse(line: &str) -> Result<Reply, ParseError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line {
            "OK" => return Ok(Reply::Ok),
            "NOT_FOUND" => return Ok(Reply::NotFound),
            _ => {}
        }
        if let Some(value) = line.strip_prefix("VALUE ") {
            check_token(value)?;
            return Ok(Reply::Value(value.to_string()));
        }
        if let Some(message) = line.strip_prefix("ERR")
            && (message.is_empty() || message.starts_with(' '))
        {
            return Ok(Reply::Err(message.trim_start().to_string()));
        }
        Err(ParseError::NotAReply(line.to_string()))
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok => f.write_str("OK"),
            Reply::Value(value) => write!(f, "VALUE {value}"),
            Reply::NotFound => f.write_str("NOT_FOUND"),
            Reply::Err(message) => write!(f, "ERR {message}"),
        }
    }
}

/// The free text of a `READY` line (`""` for a bare `READY`), or `None` when
/// the line is not a `READY` line.
pub fn ready_text(line: &str) -> Option<&str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let rest = line.strip_prefix(READY)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix(' ')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for line in [
            "PUT user:1 alice",
            "DEL user:2",
            "GET k",
            "WALPUT test_key test_value",
            "CRASH",
        ] {
            assert_eq!(Request::parse(line).unwrap().to_string(), line);
        }
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        assert_eq!(Request::parse("  "), Err(ParseError::Empty));
        assert_eq!(
            Request::parse("put a b").unwrap_err().to_string(),
            "unknown command \"put\" (expected PUT, DEL, GET, WALPUT or CRASH)"
        );
        assert_eq!(
            Request::parse("PUT a").unwrap_err().to_string(),
            "PUT takes a key and a value, found 1 word(s)"
        );
        assert_eq!(
            Request::parse("CRASH now").unwrap_err().to_string(),
            "CRASH takes no arguments, found 1 word(s)"
        );
        let long = "k".repeat(65);
        assert!(matches!(
            Request::parse(&format!("GET {long}")),
            Err(ParseError::Token(TokenError::TooLong(_)))
        ));
        assert!(matches!(
            Request::parse("GET caf\u{e9}"),
            Err(ParseError::Token(TokenError::NotPrintable(_)))
        ));
    }

    #[test]
    fn replies_round_trip_and_tolerate_crlf() {
        for reply in [
            Reply::Ok,
            Reply::NotFound,
            Reply::Value("v".into()),
            Reply::Err("no such command".into()),
        ] {
            assert_eq!(Reply::parse(&reply.to_string()).unwrap(), reply);
        }
        assert_eq!(Reply::parse("OK\r").unwrap(), Reply::Ok);
        assert!(Reply::parse("ok").is_err());
        assert!(Reply::parse("VALUE ").is_err());
        assert!(Reply::parse("ERROR x").is_err());
        assert!(Reply::parse("Traceback (most recent call last):").is_err());
    }

    #[test]
    fn ready_lines() {
        assert_eq!(ready_text("READY"), Some(""));
        assert_eq!(ready_text("READY replayed 5"), Some("replayed 5"));
        assert_eq!(ready_text("READY\r"), Some(""));
        assert_eq!(ready_text("READYX"), None);
        assert_eq!(ready_text("ready"), None);
    }

    #[test]
    fn writes_are_put_del_and_walput() {
        let writes: Vec<bool> = ["PUT a b", "DEL a", "WALPUT a b", "GET a", "CRASH"]
            .iter()
            .map(|line| Request::parse(line).unwrap().writes())
            .collect();
        assert_eq!(writes, [true, true, true, false, false]);
    }
}
