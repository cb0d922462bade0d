//! Reading `strace -f -y` output: the file system calls of a store, in
//! order, with the path behind every file descriptor.
//!
//! Only what the power-loss rule needs is kept: writes (to which file, or
//! which bytes to the store's stdout), syncs, opens with their flags, and
//! renames, unlinks and truncations. A call that failed (`= -1 ...`) did
//! nothing and is dropped. With several processes or threads, strace splits
//! a call into `<unfinished ...>` and `<... NAME resumed>` lines; they are
//! joined back per process id before parsing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One system call that matters to durability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes written to a file (any of the write family, or a truncation).
    WriteFile { path: PathBuf, call: String },
    /// Bytes written to a pipe, with the pipe's inode and the bytes.
    WritePipe { inode: u64, bytes: Vec<u8> },
    /// `fsync` or `fdatasync` of a file or directory.
    Sync { path: PathBuf },
    /// `sync`, or `syncfs` of a descriptor beneath the store's directory
    /// (`SyncAll` then; a `syncfs` of another file, which may lie on another
    /// file system, is [`Event::SyncOther`]).
    SyncAll,
    /// `syncfs` of a descriptor elsewhere: not known to reach the store's
    /// files (`/dev/null` lies on another file system).
    SyncOther { path: PathBuf },
    /// `dup`, `dup2` or `dup3`: descriptor `to` now names what `from`
    /// names (writes through it are synchronous exactly when through
    /// `from`).
    Dup { from: i64, to: i64, path: PathBuf },
    /// `chdir` or `fchdir`: the process's working directory from now on
    /// (relative names in later calls resolve against it).
    Chdir { path: PathBuf },
    /// `sync_file_range` of a file: writeback started, nothing made
    /// durable; seen only to say what the store did.
    RangeSync { path: PathBuf },
    /// An open: the path it resolved to, whether it may have created the
    /// file, and whether writes through it are synchronous.
    Open {
        path: PathBuf,
        fd: i64,
        creates: bool,
        synchronous: bool,
        /// Opened for writing (or to create or truncate).
        writes: bool,
    },
    /// A name made: a folder (`mkdir`), a link (`symlink`, `link`), or one
    /// removed (`rmdir`); the path it names.
    Names {
        path: PathBuf,
        call: String,
        /// A hard link's source.
        from: Option<PathBuf>,
    },
    /// A rename into `to`.
    Rename { from: PathBuf, to: PathBuf },
    /// An unlink.
    Unlink { path: PathBuf },
    /// A call that moves bytes into a descriptor without strace showing
    /// them (`splice`, `sendfile`, `vmsplice`, `tee`, `copy_file_range`,
    /// `sendmmsg`), or that does I/O strace cannot see at all
    /// (`io_uring_enter`): the pipes among its descriptors.
    Opaque { call: String, pipes: Vec<u64> },
    /// A shared, writable `mmap` of a file: its writes reach the file with
    /// no system call.
    SharedMap { path: PathBuf },
    /// The process ended (`+++ exited with N +++`, `+++ killed by ... +++`).
    Ended,
}

/// A write through a file descriptor opened with `O_SYNC`/`O_DSYNC` is
/// durable when it returns; the rule needs to know which descriptors those
/// are, per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced {
    pub pid: u32,
    pub fd: Option<i64>,
    pub event: Event,
    /// The trace line where the call started (its `<unfinished ...>` line
    /// when another thread's call came in between) and where it returned:
    /// with threads, a call's effect lies somewhere between the two.
    pub started: usize,
    pub finished: usize,
}

/// The events with every relative path made absolute against the working
/// directory of its process: `start` (where the store started) until the
/// process calls `chdir`/`fchdir`. A process first seen after another's
/// `chdir` (forked after it) starts in the latest directory changed to.
/// And a `syncfs` counts as a sync of everything only for a descriptor
/// beneath `dir`, the store's directory (whose file system it then is).
pub fn resolve(events: Vec<Traced>, start: &Path, dir: &Path) -> Vec<Traced> {
    let mut cwd: HashMap<u32, PathBuf> = HashMap::new();
    let mut latest = start.to_path_buf();
    let is_name = |path: &Path| {
        let text = path.to_string_lossy();
        !(text.contains(":[") || text.starts_with("anon_inode:"))
    };
    events
        .into_iter()
        .map(|mut traced| {
            let here = cwd
                .entry(traced.pid)
                .or_insert_with(|| latest.clone())
                .clone();
            let fix = |path: &mut PathBuf| {
                if path.is_relative() && is_name(path) {
                    *path = here.join(&*path);
                }
            };
            match &mut traced.event {
                Event::Chdir { path } => {
                    fix(path);
                    let now = super::lexical(path);
                    cwd.insert(traced.pid, now.clone());
                    latest = now;
                }
                Event::Rename { from, to } => {
                    fix(from);
                    fix(to);
                }
                Event::Unlink { path }
                | Event::WriteFile { path, .. }
                | Event::Open { path, .. } => fix(path),
                Event::Names { path, from, .. } => {
                    fix(path);
                    if let Some(from) = from {
                        fix(from);
                    }
                }
                Event::SyncOther { path } => {
                    fix(path);
                    if super::lexical(path).starts_with(dir) {
                        traced.event = Event::SyncAll;
                    }
                }
                _ => {}
            }
            traced
        })
        .collect()
}

/// Parses a whole trace.
pub fn parse(text: &str) -> Vec<Traced> {
    let mut pending: HashMap<u32, (String, usize)> = HashMap::new();
    let mut events = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let Some((pid, rest)) = split_pid(line) else {
            continue;
        };
        if rest.starts_with("+++ ") {
            events.push(Traced {
                pid,
                fd: None,
                event: Event::Ended,
                started: number,
                finished: number,
            });
            continue;
        }
        let (call, started) = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(pid, (head.to_string(), number));
            continue;
        } else if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            match pending.remove(&pid) {
                Some((head, started)) => (format!("{head}{tail}"), started),
                None => continue,
            }
        } else {
            (rest.to_string(), number)
        };
        if let Some(event) = parse_call(&call) {
            events.push(Traced {
                pid,
                fd: event.1,
                event: event.0,
                started,
                finished: number,
            });
        }
    }
    events
}

fn split_pid(line: &str) -> Option<(u32, &str)> {
    let (pid, rest) = line.split_once(' ')?;
    Some((pid.parse().ok()?, rest.trim_start()))
}

/// `name(args) = result`: the event, and the file descriptor it used.
fn parse_call(call: &str) -> Option<(Event, Option<i64>)> {
    let open = call.find('(')?;
    let name = &call[..open];
    // strace pads short calls to a column: `fsync(3</d/log>)      = 0`.
    let (args, result) = call[open + 1..].rsplit_once(" = ")?;
    let args = args.trim_end().strip_suffix(')')?;
    let result = result.trim();
    if result.starts_with('-') {
        return None;
    }
    // `= ?`: the process was killed before strace saw the call return (a
    // SIGKILL right after the reply was read). A write may have happened,
    // so it counts; a sync, open or rename is not known to have, so it
    // does not.
    let unknown = result.starts_with('?');
    let is_write = matches!(
        name,
        "write"
            | "pwrite64"
            | "writev"
            | "pwritev"
            | "pwritev2"
            | "ftruncate"
            | "fallocate"
            | "truncate"
            | "sendmsg"
            | "sendto"
    ) || OPAQUE.contains(&name);
    if unknown && !is_write {
        return None;
    }
    let (fd, fd_path) = leading_fd(args);
    let event = match name {
        _ if OPAQUE.contains(&name) => Event::Opaque {
            call: name.to_string(),
            pipes: fd_paths(args)
                .iter()
                .filter_map(|path| pipe_inode(path))
                .collect(),
        },
        "mmap" => {
            let path = fd_paths(args).into_iter().next()?;
            if !(args.contains("PROT_WRITE") && args.contains("MAP_SHARED")) {
                return None;
            }
            Event::SharedMap {
                path: PathBuf::from(path),
            }
        }
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "ftruncate" | "fallocate"
        | "sendmsg" | "sendto" => {
            let path = fd_path?;
            match pipe_inode(&path) {
                Some(inode) => Event::WritePipe {
                    inode,
                    bytes: quoted_strings(args),
                },
                None => Event::WriteFile {
                    path: PathBuf::from(path),
                    call: name.to_string(),
                },
            }
        }
        "fsync" | "fdatasync" => Event::Sync {
            path: PathBuf::from(fd_path?),
        },
        "sync" => Event::SyncAll,
        // Judged against the store's directory in `resolve`.
        "syncfs" => Event::SyncOther {
            path: PathBuf::from(fd_path?),
        },
        "chdir" => Event::Chdir {
            path: resolved_paths(args).into_iter().next()?,
        },
        "fchdir" => Event::Chdir {
            path: PathBuf::from(fd_path?),
        },
        "dup" | "dup2" | "dup3" => {
            let (to, _) = leading_fd(result);
            Event::Dup {
                from: fd?,
                to: to?,
                path: PathBuf::from(fd_path?),
            }
        }
        "sync_file_range" | "sync_file_range2" => Event::RangeSync {
            path: PathBuf::from(fd_path?),
        },
        "open" | "openat" | "creat" => {
            let (new_fd, path) = leading_fd(result);
            let flags = args;
            Event::Open {
                path: PathBuf::from(path?),
                fd: new_fd?,
                creates: name == "creat" || flags.contains("O_CREAT"),
                synchronous: flags.contains("O_SYNC") || flags.contains("O_DSYNC"),
                writes: name == "creat"
                    || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                        .iter()
                        .any(|flag| flags.contains(flag)),
            }
        }
        "mkdir" | "mkdirat" | "rmdir" | "symlink" | "symlinkat" | "link" | "linkat" => {
            let mut paths = resolved_paths(args);
            // The name made is the last path given; a hard link's source,
            // the first (the rule models a link over a removed name like a
            // rename over it).
            let path = paths.pop()?;
            let from = (name == "link" || name == "linkat")
                .then(|| paths.into_iter().next())
                .flatten();
            Event::Names {
                path,
                call: name.to_string(),
                from,
            }
        }
        "rename" | "renameat" | "renameat2" => {
            let paths = resolved_paths(args);
            let [from, to] = paths.get(..2)?.to_vec().try_into().ok()?;
            Event::Rename { from, to }
        }
        "truncate" => Event::WriteFile {
            path: resolved_paths(args).into_iter().next()?,
            call: name.to_string(),
        },
        "unlink" | "unlinkat" => Event::Unlink {
            path: resolved_paths(args).into_iter().next()?,
        },
        _ => return None,
    };
    Some((event, fd))
}

/// Calls whose bytes strace does not show, or whose I/O it cannot see.
const OPAQUE: &[&str] = &[
    "splice",
    "tee",
    "sendfile",
    "vmsplice",
    "copy_file_range",
    "sendmmsg",
    "io_uring_enter",
];

/// The paths of every descriptor `-y` annotated in `args` (`3</d/log>`).
fn fd_paths(args: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = args;
    while let Some(open) = rest.find('<') {
        // A descriptor's annotation follows its number.
        let is_fd = rest[..open].ends_with(|c: char| c.is_ascii_digit());
        let after = &rest[open + 1..];
        let Some(end) = after.find('>') else { break };
        if is_fd {
            paths.push(unescape_path(&after[..end]));
        }
        rest = &after[end + 1..];
    }
    paths
}

/// `3</tmp/d/wal.log>, ...`: the descriptor and its path.
fn leading_fd(text: &str) -> (Option<i64>, Option<String>) {
    let Some(open) = text.find('<') else {
        return (
            text.split([',', ' ']).next().and_then(|n| n.parse().ok()),
            None,
        );
    };
    let fd = text[..open].parse().ok();
    let rest = &text[open + 1..];
    // A path may itself hold '>' (rare); the descriptor's text ends at the
    // first ">, " or at a final '>'.
    let end = rest.find(">, ").or_else(|| rest.rfind('>'));
    (fd, end.map(|end| unescape_path(&rest[..end])))
}

/// A path as `-y` prints it, with strace's escapes (`\303\251` for a
/// non-ASCII byte) decoded, so that it compares equal to the real path.
fn unescape_path(text: &str) -> String {
    let (bytes, _) = unescape(&format!("{text}\""));
    String::from_utf8_lossy(&bytes).into_owned()
}

fn pipe_inode(path: &str) -> Option<u64> {
    path.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok()
}

/// The paths a call names, each made absolute: a quoted path relative to
/// the directory descriptor before it (`AT_FDCWD</cwd>, "wal.tmp"`).
fn resolved_paths(args: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut base: Option<PathBuf> = None;
    let mut rest = args;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let (bytes, tail) = unescape(after);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let path = Path::new(&text);
            paths.push(match &base {
                Some(base) if path.is_relative() => base.join(path),
                _ => path.to_path_buf(),
            });
            rest = tail;
        } else if let Some(open) = rest.find(['<', '"']) {
            if rest.as_bytes()[open] == b'<' {
                let after = &rest[open + 1..];
                let end = after.find('>').unwrap_or(after.len());
                base = Some(PathBuf::from(unescape_path(&after[..end])));
                rest = &after[end..];
            } else {
                rest = &rest[open..];
            }
        } else {
            break;
        }
    }
    paths
}

/// Every quoted string in `args`, unescaped and joined: the bytes of a
/// `write` or of a `writev`'s buffers.
fn quoted_strings(args: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = args;
    while let Some(start) = rest.find('"') {
        let (string, tail) = unescape(&rest[start + 1..]);
        bytes.extend(string);
        rest = tail;
    }
    bytes
}

/// Reads a C string strace printed, from just after its opening quote:
/// returns its bytes and the text after its closing quote.
fn unescape(text: &str) -> (Vec<u8>, &str) {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return (out, &text[i + 1..]),
            b'\\' if i + 1 < bytes.len() => {
                i += 1;
                match bytes[i] {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'v' => out.push(0x0b),
                    b'f' => out.push(0x0c),
                    b'x' => {
                        let hex = text.get(i + 1..i + 3).unwrap_or("");
                        out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                        i += 2;
                    }
                    b'0'..=b'7' => {
                        let digits = bytes[i..]
                            .iter()
                            .take(3)
                            .take_while(|b| (b'0'..=b'7').contains(*b))
                            .count();
                        let octal = &text[i..i + digits];
                        out.push(u8::from_str_radix(octal, 8).unwrap_or(0));
                        i += digits - 1;
                    }
                    other => out.push(other),
                }
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    (out, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"659   openat(AT_FDCWD</tmp/t>, "/tmp/t/d/wal.log", O_RDWR|O_CREAT|O_EXCL|O_APPEND|O_CLOEXEC, 0644) = 3</tmp/t/d/wal.log>
659   fsync(3</tmp/t/d/wal.log>)   = 0
659   openat(AT_FDCWD</tmp/t>, "/tmp/t/d", O_RDONLY|O_CLOEXEC) = 4</tmp/t/d>
659   fsync(4</tmp/t/d>)           = 0
659   write(1<pipe:[161913]>, "READY replayed 0, skipped 0\n", 28) = 28
659   write(3</tmp/t/d/wal.log>, "09006bca 1 PUT a 1\n", 19) = 19
659   openat(AT_FDCWD</tmp/t>, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
660   write(1<pipe:[161913]>, "O" <unfinished ...>
661   renameat2(AT_FDCWD</tmp/t/d>, "snap.tmp", AT_FDCWD</tmp/t/d>, "snap", RENAME_NOREPLACE) = 0
660   <... write resumed>, 1) = 1
659   writev(1<pipe:[161913]>, [{iov_base="K", iov_len=1}, {iov_base="\n\303\251\0", iov_len=4}], 2) = 5
659   --- SIGCHLD {si_signo=SIGCHLD} ---
659   +++ killed by SIGKILL +++
"#;

    #[test]
    fn a_trace_becomes_events_in_order() {
        let events: Vec<Event> = parse(TRACE).into_iter().map(|t| t.event).collect();
        assert_eq!(
            events,
            [
                Event::Open {
                    path: "/tmp/t/d/wal.log".into(),
                    fd: 3,
                    creates: true,
                    synchronous: false,
                    writes: true
                },
                Event::Sync {
                    path: "/tmp/t/d/wal.log".into()
                },
                Event::Open {
                    path: "/tmp/t/d".into(),
                    fd: 4,
                    creates: false,
                    synchronous: false,
                    writes: false
                },
                Event::Sync {
                    path: "/tmp/t/d".into()
                },
                Event::WritePipe {
                    inode: 161913,
                    bytes: b"READY replayed 0, skipped 0\n".to_vec()
                },
                Event::WriteFile {
                    path: "/tmp/t/d/wal.log".into(),
                    call: "write".into()
                },
                Event::Rename {
                    from: "/tmp/t/d/snap.tmp".into(),
                    to: "/tmp/t/d/snap".into()
                },
                Event::WritePipe {
                    inode: 161913,
                    bytes: b"O".to_vec()
                },
                Event::WritePipe {
                    inode: 161913,
                    bytes: b"K\n\xc3\xa9\0".to_vec()
                },
                Event::Ended,
            ]
        );
    }

    #[test]
    fn a_write_cut_short_by_sigkill_still_counts() {
        let events = parse(
            "7 write(1<pipe:[9]>, \"OK\\n\", 3) = ?\n7 fsync(3</d/log>) = ?\n7 +++ killed by SIGKILL +++\n",
        );
        assert_eq!(
            events.into_iter().map(|t| t.event).collect::<Vec<_>>(),
            [
                Event::WritePipe {
                    inode: 9,
                    bytes: b"OK\n".to_vec()
                },
                Event::Ended
            ]
        );
    }

    #[test]
    fn escaped_paths_are_decoded() {
        let events = parse(
            "7 write(3</tmp/tmp\\303\\251/wal.log>, \"x\", 1) = 1\n7 fsync(3</tmp/a b/wal.log>) = 0\n",
        );
        assert_eq!(
            events[0].event,
            Event::WriteFile {
                path: "/tmp/tmp\u{e9}/wal.log".into(),
                call: "write".into()
            }
        );
        assert_eq!(
            events[1].event,
            Event::Sync {
                path: "/tmp/a b/wal.log".into()
            }
        );
    }

    #[test]
    fn sync_opens_are_marked() {
        let events = parse(
            "7 openat(AT_FDCWD</w>, \"/w/log\", O_WRONLY|O_CREAT|O_DSYNC, 0644) = 5</w/log>\n",
        );
        assert!(matches!(
            events[0].event,
            Event::Open {
                synchronous: true,
                ..
            }
        ));
    }

    #[test]
    fn bytes_strace_cannot_show_are_marked() {
        let events = parse(concat!(
            "7 splice(3</d/log>, NULL, 1<pipe:[9]>, NULL, 3, 0) = 3\n",
            "7 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3</d/log>, 0) = 0x7f00\n",
            "7 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 4</usr/lib/x.so>, 0) = 0x7f00\n",
            "7 io_uring_enter(5<anon_inode:[io_uring]>, 1, 0, 0, NULL, 8) = 1\n",
            "7 +++ exited with 0 +++\n",
        ));
        assert_eq!(
            events.into_iter().map(|t| t.event).collect::<Vec<_>>(),
            [
                Event::Opaque {
                    call: "splice".into(),
                    pipes: vec![9]
                },
                Event::SharedMap {
                    path: "/d/log".into()
                },
                Event::Opaque {
                    call: "io_uring_enter".into(),
                    pipes: vec![]
                },
                Event::Ended,
            ]
        );
    }

    #[test]
    fn relative_names_follow_each_processs_working_directory() {
        let trace = "7 rename(\"a\", \"b\") = 0\n\
                     7 chdir(\"/s\") = 0\n\
                     7 rename(\"wal.log.compact\", \"wal.log\") = 0\n\
                     7 unlink(\"sub/../stale.tmp\") = 0\n\
                     8 fchdir(3</t>) = 0\n\
                     8 unlink(\"x\") = 0\n\
                     9 unlink(\"y\") = 0\n";
        let events: Vec<Event> = resolve(parse(trace), Path::new("/start"), Path::new("/s"))
            .into_iter()
            .map(|traced| traced.event)
            .collect();
        let rename = |from: &str, to: &str| Event::Rename {
            from: PathBuf::from(from),
            to: PathBuf::from(to),
        };
        let unlink = |path: &str| Event::Unlink {
            path: PathBuf::from(path),
        };
        assert_eq!(events[0], rename("/start/a", "/start/b"));
        assert_eq!(events[2], rename("/s/wal.log.compact", "/s/wal.log"));
        assert_eq!(events[3], unlink("/s/sub/../stale.tmp"));
        assert_eq!(events[5], unlink("/t/x"));
        // First seen after process 8's fchdir: forked after it.
        assert_eq!(events[6], unlink("/t/y"));
    }

    #[test]
    fn syncfs_syncs_everything_only_from_the_stores_directory() {
        let trace = "7 syncfs(3</dev/null>) = 0\n7 syncfs(4</s/wal.log>) = 0\n7 sync() = 0\n";
        let events: Vec<Event> = resolve(parse(trace), Path::new("/start"), Path::new("/s"))
            .into_iter()
            .map(|traced| traced.event)
            .collect();
        assert_eq!(
            events,
            [
                Event::SyncOther {
                    path: PathBuf::from("/dev/null")
                },
                Event::SyncAll,
                Event::SyncAll
            ]
        );
    }
}
