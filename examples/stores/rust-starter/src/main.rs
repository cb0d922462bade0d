//! A key-value store for the week 9 crash drills, to finish yourself.
//!
//! The store protocol (docs/store-protocol.md in the course repository) is
//! written for you: start-up, `READY`, one request per line on stdin, one
//! reply per line on stdout, flushed, `CRASH`, end of input. What is left is
//! the write-ahead log, the part the lessons are about. Each missing piece is
//! a `todo!` naming its lesson:
//!
//! - w09-l07 (crash after WAL write, before apply): [`Store::replay`] rebuilds
//!   the map from the log on start; [`Store::append`] writes a record and makes
//!   it durable before the store replies `OK`.
//! - w09-l08 (crash mid-write, partial record): [`record::encode`] and
//!   [`record::decode`] give every record a checksum and recognise a partial
//!   or damaged one; [`Store::cut_torn_tail`] removes a torn tail before
//!   anything is appended behind it.
//!
//! Untouched, the store panics on start at the first `todo!`, and the drill
//! shows that message. Run the drills against it as the README says.

mod record;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The name of the log inside the store's directory.
const LOG_NAME: &str = "wal.log";
/// Keys and values are 1 to this many printable ASCII characters.
const MAX_TOKEN: usize = 64;

/// One change to the map, as it is written to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: String, value: String },
    Del { key: String },
}

/// What recovery found, for the `READY` line.
#[derive(Debug, Default)]
pub struct Replay {
    /// Records applied to the map.
    pub replayed: u64,
    /// The first damaged record, if replay stopped at one.
    pub damage: Option<Damage>,
}

/// A record that is partial or fails its checks.
#[derive(Debug)]
pub struct Damage {
    /// Where the damaged record starts in the log: the end of the last good one.
    pub offset: u64,
    /// Why it is damaged, in words (printed on stderr).
    pub reason: String,
}

/// The store: an in-memory map over a write-ahead log in `dir`.
pub struct Store {
    dir: PathBuf,
    log_path: PathBuf,
    map: HashMap<String, String>,
    /// The LSN the next record gets (the first record is 1).
    next_lsn: u64,
    /// The log, once opened for appending.
    log: Option<File>,
}

impl Store {
    /// Open the store in `dir` (created if missing) and recover from its log.
    fn open(dir: PathBuf) -> io::Result<(Store, Replay)> {
        std::fs::create_dir_all(&dir)?;
        let log_path = dir.join(LOG_NAME);
        let mut store = Store {
            dir,
            log_path,
            map: HashMap::new(),
            next_lsn: 1,
            log: None,
        };
        let replay = store.replay()?;
        if let Some(damage) = &replay.damage {
            eprintln!(
                "skipping corrupt record at offset {} ({})",
                damage.offset, damage.reason
            );
            store.cut_torn_tail(damage.offset)?;
        }
        Ok((store, replay))
    }

    /// Rebuild the map from the log, in order, stopping at the first damaged record.
    fn replay(&mut self) -> io::Result<Replay> {
        todo!(
            "w09-l07: replay the log on start. Read {} (a missing file is the empty \
             state), decode its records from the start with record::decode(), apply() each \
             one to the map and set next_lsn past it. At the first record decode() rejects, \
             stop and return Replay {{ replayed, damage: Some(Damage {{ offset, reason }}) }}. \
             See lessons/w09-l07 and docs/store-protocol.md",
            self.log_path.display()
        )
    }

    /// Append one record to the log and make it durable; only then may the
    /// caller apply it and reply `OK`.
    fn append(&mut self, op: &Op) -> io::Result<()> {
        todo!(
            "w09-l07: append record {lsn} ({op:?}) to {log} and make it durable before \
             returning: open the log once and keep the File in self.log (now {state}), \
             write_all the bytes of record::encode({lsn}, op), then File::sync_all (or \
             sync_data), then next_lsn += 1. When you create the file, also sync the file and \
             its directory {dir} (File::open(dir)?.sync_all()), or a power loss can drop the \
             whole log",
            lsn = self.next_lsn,
            log = self.log_path.display(),
            state = if self.log.is_some() {
                "open"
            } else {
                "not open yet"
            },
            dir = self.dir.display(),
        )
    }

    /// Remove the damaged bytes from `good_end` to the end of the log, durably.
    fn cut_torn_tail(&mut self, good_end: u64) -> io::Result<()> {
        todo!(
            "w09-l08: cut the torn tail off before anything is appended behind it: \
             truncate the log to {good_end} bytes (File::set_len) and sync_all it, and say so \
             on stderr. A record appended after torn bytes is read as part of the damaged \
             record at the next start, and lost"
        )
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Put { key, value } => {
                self.map.insert(key.clone(), value.clone());
            }
            Op::Del { key } => {
                self.map.remove(key);
            }
        }
    }

    /// PUT and DEL: log first (durably), then apply.
    fn write(&mut self, op: Op) -> io::Result<String> {
        self.append(&op)?;
        self.apply(&op);
        Ok("OK".to_string())
    }

    /// WALPUT: the lesson's bypass, logged durably but not applied.
    fn walput(&mut self, op: Op) -> io::Result<String> {
        self.append(&op)?;
        Ok("OK".to_string())
    }

    fn get(&self, key: &str) -> String {
        match self.map.get(key) {
            Some(value) => format!("VALUE {value}"),
            None => "NOT_FOUND".to_string(),
        }
    }
}

/// One request line of the protocol.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Put(String, String),
    Del(String),
    Get(String),
    WalPut(String, String),
    Crash,
}

/// Parse a request line (without its end of line); `Err` is the `ERR` text.
fn parse_request(line: &str) -> Result<Request, String> {
    let words: Vec<&str> = line.split(' ').collect();
    let (name, args) = (words[0], &words[1..]);
    let arity = match name {
        "PUT" | "WALPUT" => 2,
        "DEL" | "GET" => 1,
        "CRASH" => 0,
        _ => {
            return Err(format!(
                "unknown request {name:?} (expected PUT, DEL, GET, WALPUT or CRASH)"
            ));
        }
    };
    if args.len() != arity {
        return Err(format!(
            "{name} takes {arity} argument(s), got {}",
            args.len()
        ));
    }
    if let Some(bad) = args.iter().find(|token| !valid_token(token)) {
        return Err(format!(
            "{bad:?}: keys and values are 1 to {MAX_TOKEN} printable ASCII characters"
        ));
    }
    let arg = |i: usize| args[i].to_string();
    Ok(match name {
        "PUT" => Request::Put(arg(0), arg(1)),
        "WALPUT" => Request::WalPut(arg(0), arg(1)),
        "DEL" => Request::Del(arg(0)),
        "GET" => Request::Get(arg(0)),
        _ => Request::Crash,
    })
}

fn valid_token(token: &str) -> bool {
    (1..=MAX_TOKEN).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Write one reply line and flush it: the tester waits for each line.
fn reply(out: &mut impl Write, text: &str) -> io::Result<()> {
    writeln!(out, "{text}")?;
    out.flush()
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: kvstore-starter DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let (mut store, replay) = match Store::open(dir.clone()) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("cannot open the store in {}: {error}", dir.display());
            return ExitCode::from(2);
        }
    };
    match serve(&mut store, &replay) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // stdout closed (the tester went away) or the log failed: after a
            // failed write or fsync the log's state is unknown, so stop and let
            // the next start's recovery decide.
            eprintln!("stopping: {error}");
            ExitCode::from(2)
        }
    }
}

/// The protocol loop: `READY`, then one reply per request until end of input.
fn serve(store: &mut Store, replay: &Replay) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let skipped = u64::from(replay.damage.is_some());
    reply(
        &mut out,
        &format!("READY replayed {}, skipped {skipped}", replay.replayed),
    )?;
    let mut input = io::stdin().lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw)? == 0 {
            return Ok(()); // end of input: exit 0
        }
        let line = String::from_utf8_lossy(&raw);
        let answer = match parse_request(line.trim_end_matches('\n')) {
            Err(message) => format!("ERR {message}"),
            // The simulated crash. process::exit ends the process at once: no
            // destructors run, so nothing of ours is flushed or closed, like a
            // crash. Whatever append() has not written and synced is lost,
            // which is what the drill checks.
            Ok(Request::Crash) => std::process::exit(1),
            Ok(Request::Get(key)) => store.get(&key),
            Ok(Request::Put(key, value)) => store.write(Op::Put { key, value })?,
            Ok(Request::Del(key)) => store.write(Op::Del { key })?,
            Ok(Request::WalPut(key, value)) => store.walput(Op::Put { key, value })?,
        };
        reply(&mut out, &answer)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_request() {
        let s = |t: &str| t.to_string();
        assert_eq!(parse_request("PUT k v"), Ok(Request::Put(s("k"), s("v"))));
        assert_eq!(
            parse_request("WALPUT k v"),
            Ok(Request::WalPut(s("k"), s("v")))
        );
        assert_eq!(parse_request("DEL k"), Ok(Request::Del(s("k"))));
        assert_eq!(parse_request("GET k"), Ok(Request::Get(s("k"))));
        assert_eq!(parse_request("CRASH"), Ok(Request::Crash));
    }

    #[test]
    fn rejects_malformed_requests() {
        for line in [
            "",
            "PUT k",
            "PUT k v w",
            "CRASH now",
            "put k v",
            "GET k\u{7f}",
        ] {
            assert!(parse_request(line).is_err(), "{line:?} was accepted");
        }
        assert!(parse_request(&format!("GET {}", "k".repeat(65))).is_err());
        assert!(parse_request(&format!("GET {}", "k".repeat(64))).is_ok());
    }
}
