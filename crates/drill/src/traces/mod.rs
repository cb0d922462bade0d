//! The record of a store's system calls, and the judgement over it.
//!
//! While the drill runs, every store process it starts may be traced with
//! `strace -f -y` ([`Recorder`] hands out where each record goes, and keeps
//! what the drill itself saw of that process: [`TracedRun`]). At the end,
//! [`judge`] reads the records ([`parse`]) and applies the rule ([`rule`]).
//! This module only reads: it never starts or stops a process (the
//! launching lives in `launch.rs`, the step that shows a loss in
//! `powerloss.rs`).
//!
//! It fails closed. A record can be judged only if it is whole and shows
//! every reply the drill received: the OK lines the drill read from a
//! process must be the OK lines its record shows, a record missing or cut
//! short (no line for the process's end) of a process that acknowledged
//! writes cannot be judged, and neither can replies sent by calls whose
//! bytes strace does not print (`splice`, `sendfile`, ...), I/O through
//! `io_uring`, or writes through a shared writable `mmap` of a file in the
//! store's directory.

pub mod dirops;
pub mod parse;
pub mod rule;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use store_protocol::Request;

use crate::files::DirState;
use parse::Event;

/// The calls strace records: what can make data durable, or not, and every
/// way bytes can reach the store's stdout.
pub const TRACED_CALLS: &str = "trace=write,pwrite64,writev,pwritev,pwritev2,ftruncate,truncate,\
fallocate,fsync,fdatasync,sync_file_range,sync,syncfs,open,openat,creat,rename,renameat,\
renameat2,unlink,unlinkat,sendmsg,sendto,sendmmsg,splice,tee,sendfile,vmsplice,copy_file_range,\
io_uring_enter,mmap,mkdir,mkdirat,rmdir,symlink,symlinkat,link,linkat,chdir,fchdir,dup,dup2,dup3";

/// A record larger than this is not read: the store wrote too much to be
/// judged within the drill's memory.
pub const MAX_TRACE_BYTES: u64 = 64 << 20;

/// Collects the records of a drill's store processes, for the check at the
/// end of the drill.
#[derive(Debug)]
pub struct Recorder {
    strace: Option<PathBuf>,
    dir: PathBuf,
    started: AtomicUsize,
    runs: Mutex<Vec<TracedRun>>,
}

/// One traced store process, as the drill saw it.
#[derive(Debug, Clone)]
pub struct TracedRun {
    pub trace: PathBuf,
    /// The store's directory, canonical (as strace shows paths).
    pub dir: PathBuf,
    /// The files it held when the process started.
    pub existing: BTreeSet<PathBuf>,
    /// The directory when the process started: what a rename before its
    /// `READY` replaced.
    pub at_start: DirState,
    /// The store's working directory (the drill's own).
    pub cwd: PathBuf,
    pub stdout_inode: u64,
    /// Every request sent, with the directory around each write.
    pub exchanges: Vec<Exchange>,
    /// What the store may read besides its directory (the system's
    /// folders, its program and the files its command names).
    pub readable: Vec<PathBuf>,
    /// The lines the drill read from its stdout, `READY` included.
    pub lines_received: usize,
    /// How many of them were `OK`.
    pub oks_received: usize,
}

/// A request, and for a write, the store's directory before it and at its
/// reply.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Request,
    pub around: Option<(DirState, DirState)>,
}

impl Recorder {
    /// A recorder writing its records into `dir`, a folder private to the
    /// drill (created on the first record, never beside a store's
    /// directory); it records only when `strace` is installed.
    pub fn new(dir: PathBuf) -> Arc<Recorder> {
        Arc::new(Recorder {
            strace: crate::program::find_program("strace"),
            dir,
            started: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
        })
    }

    /// The strace program, if installed.
    pub fn strace(&self) -> Option<&Path> {
        self.strace.as_deref()
    }

    /// Where the records go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the next process's record.
    pub(crate) fn next_trace(&self) -> std::io::Result<PathBuf> {
        match fs::create_dir(&self.dir) {
            Ok(()) => {}
            // Made by an earlier record; a link planted there is no folder.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                if !fs::symlink_metadata(&self.dir)?.is_dir() {
                    return Err(std::io::Error::other(format!(
                        "{} is not a folder",
                        self.dir.display()
                    )));
                }
            }
            Err(err) => return Err(err),
        }
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(self.dir.join(format!("store-{number}.strace")))
    }

    pub(crate) fn finished(&self, run: TracedRun) {
        self.lock().push(run);
    }

    /// Every finished process's record, in the order they ended.
    pub fn runs(&self) -> Vec<TracedRun> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TracedRun>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the records say.
#[derive(Debug, Default)]
pub struct Judgement {
    /// How many `OK`s to writes were checked.
    pub acknowledged: usize,
    pub warnings: Vec<String>,
    /// The first violation: the process's run and what it broke.
    pub violation: Option<(usize, rule::Violation)>,
}

/// Reads and judges every record; `Err` is why they cannot be judged
/// (the text after "cannot judge: ").
pub fn judge(runs: &[TracedRun]) -> Result<Judgement, String> {
    let mut judgement = Judgement::default();
    for (index, run) in runs.iter().enumerate() {
        let number = index + 1;
        let events = match read_record(&run.trace) {
            Ok(text) => parse::resolve(parse::parse(&text), &run.cwd, &run.dir),
            // A process that acknowledged nothing has nothing to judge.
            Err(_) if run.oks_received == 0 => continue,
            Err(err) => {
                return Err(format!(
                    "the record of store process {number}, which acknowledged {} write{}, is missing or unreadable ({err})",
                    run.oks_received,
                    plural(run.oks_received)
                ));
            }
        };
        if run.oks_received > 0 {
            whole(&events, run, number)?;
        }
        let requests: Vec<Request> = run.exchanges.iter().map(|e| e.request.clone()).collect();
        let findings = rule::check(
            &events,
            &rule::Context {
                dir: &run.dir,
                existing: &run.existing,
                stdout_inode: run.stdout_inode,
                requests: &requests,
                cwd: &run.cwd,
            },
        );
        judgement.acknowledged += findings.acknowledged_writes;
        if findings.acknowledged_writes > 0 && !findings.saw_writes && findings.violation.is_none()
        {
            judgement.warnings.push(format!(
                "warning: strace saw no write to a file in the store's directory ({}) though writes were acknowledged: the check cannot judge this process (a path strace names differently)",
                crate::escape::path(&run.dir)
            ));
        }
        for unsynced in &findings.unsynced_directories {
            let file = crate::escape::path(&unsynced.file);
            let request = &requests[unsynced.request];
            judgement.warnings.push(match &unsynced.replaced_by {
                None => format!(
                    "warning: {file} was created (or renamed into place) in the store's directory, and the directory was not fsync'd before the OK to {request}: a power loss can drop the whole file; fsync the directory after creating a file in it"
                ),
                Some(from) => format!(
                    "warning: {} was renamed over {file}, and the directory was not fsync'd before the OK to {request}: a power loss can undo the rename and bring the old {file} back (no OK depended on it yet); fsync the directory after the rename",
                    crate::escape::path(from)
                ),
            });
        }
        if let Some(violation) = findings.violation {
            judgement.violation = Some((index, violation));
            return Ok(judgement);
        }
    }
    Ok(judgement)
}

/// Devices a store may write outside its directory.
const WRITABLE_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];

/// The first change a store made outside its directory, in any record:
/// `PATH (CALL) by store process N`. Calls that failed are not in the
/// records (under Landlock, every such call fails).
pub fn outside_dir(runs: &[TracedRun]) -> Option<String> {
    for (index, run) in runs.iter().enumerate() {
        let Ok(text) = read_record(&run.trace) else {
            continue;
        };
        let events = parse::resolve(parse::parse(&text), &run.cwd, &run.dir);
        // A store's own processes' settings (`/proc/PID/coredump_filter`,
        // a JVM's) are not files outside its directory.
        let own: BTreeSet<PathBuf> = events
            .iter()
            .map(|traced| PathBuf::from(format!("/proc/{}", traced.pid)))
            .chain(["/proc/self".into(), "/proc/thread-self".into()])
            .collect();
        for traced in events {
            // A descriptor's path (`-y`) is absolute for a file, and a
            // pipe, socket or anonymous inode otherwise (`pipe:[9]`,
            // `anon_inode:[eventfd]`): not a file. A path a call names may
            // be relative to the working directory.
            let changed = match traced.event {
                Event::Open {
                    path, writes: true, ..
                } => Some((path, "open for writing".to_string(), true)),
                Event::WriteFile { path, call } => Some((path, call, true)),
                Event::Names { path, call, .. } => Some((path, call, false)),
                Event::Unlink { path } => Some((path, "unlink".to_string(), false)),
                Event::Rename { from, to } => {
                    let (from, to) = (run.cwd.join(from), run.cwd.join(to));
                    let outside = if lexical(&from).starts_with(&run.dir) {
                        to
                    } else {
                        from
                    };
                    Some((outside, "rename".to_string(), false))
                }
                _ => None,
            };
            let Some((path, call, from_fd)) = changed else {
                continue;
            };
            if from_fd && !path.starts_with("/") {
                continue;
            }
            let path = lexical(&run.cwd.join(path));
            let device = WRITABLE_DEVICES
                .iter()
                .any(|device| path == Path::new(device))
                || path.starts_with("/dev/pts");
            let setting = own.iter().any(|proc| path.starts_with(proc));
            if !(device || setting || path.starts_with(&run.dir)) {
                return Some(format!(
                    "{} ({call}) by store process {}",
                    crate::escape::path(&path),
                    index + 1
                ));
            }
        }
    }
    None
}

/// The first file a store read outside its directory and what it may read
/// (`PATH by store process N`): under Landlock such an open fails and is not
/// in the record, so this reports what an unconfined store read.
pub fn read_outside(runs: &[TracedRun]) -> Option<String> {
    for (index, run) in runs.iter().enumerate() {
        let Ok(text) = read_record(&run.trace) else {
            continue;
        };
        for traced in parse::resolve(parse::parse(&text), &run.cwd, &run.dir) {
            let Event::Open { path, .. } = traced.event else {
                continue;
            };
            // Folders are listed on the way to a file; files are what is read.
            let allowed = !path.starts_with("/")
                || path.starts_with(&run.dir)
                || path.is_dir()
                || run
                    .readable
                    .iter()
                    .any(|readable| path.starts_with(readable));
            if !allowed {
                return Some(format!(
                    "{} by store process {}",
                    crate::escape::path(&path),
                    index + 1
                ));
            }
        }
    }
    None
}

/// `path` with `.` and `..` resolved by their names (links not followed:
/// a name is judged as the call gave it).
pub(crate) fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The record of a process that acknowledged writes must be whole, and show
/// every line the drill read from it, sent by calls whose bytes it shows.
fn whole(events: &[parse::Traced], run: &TracedRun, number: usize) -> Result<(), String> {
    let first = events.first().map(|traced| traced.pid);
    let ended = events
        .iter()
        .any(|traced| Some(traced.pid) == first && traced.event == Event::Ended);
    if !ended {
        return Err(format!(
            "the record of store process {number} stops before the process ended (cut short or truncated), though it acknowledged {} write{}",
            run.oks_received,
            plural(run.oks_received)
        ));
    }
    let mut lines = 0;
    let mut oks = 0;
    let mut line = Vec::new();
    for traced in events {
        match &traced.event {
            Event::Opaque { call, .. } if call == "io_uring_enter" => {
                return Err(format!(
                    "store process {number} used io_uring, whose reads and writes strace does not show"
                ));
            }
            Event::Opaque { call, pipes } if pipes.contains(&run.stdout_inode) => {
                return Err(format!(
                    "store process {number} sent bytes to its stdout with {call}(2), whose bytes strace does not show, so its OKs cannot be placed; reply with write(2)"
                ));
            }
            Event::SharedMap { path } if path.starts_with(&run.dir) => {
                return Err(format!(
                    "store process {number} maps {} shared and writable (mmap): its writes reach the file with no system call and are made durable by msync, which the record cannot tie to them; write with write(2) and fsync instead",
                    crate::escape::path(path)
                ));
            }
            Event::WritePipe { inode, bytes } if *inode == run.stdout_inode => {
                for &byte in bytes {
                    if byte == b'\n' {
                        lines += 1;
                        oks += usize::from(
                            lines > 1 && line.strip_suffix(b"\r").unwrap_or(&line) == b"OK",
                        );
                        line.clear();
                    } else if line.len() < 16 {
                        line.push(byte);
                    }
                }
            }
            _ => {}
        }
    }
    if lines < run.lines_received || oks != run.oks_received {
        return Err(format!(
            "the drill read {} line{} from store process {number}, {} of them OK, but its record shows {lines} line{} written to its stdout, {oks} of them OK",
            run.lines_received,
            plural(run.lines_received),
            run.oks_received,
            plural(lines)
        ));
    }
    Ok(())
}

/// A record's text, refused past [`MAX_TRACE_BYTES`].
fn read_record(path: &Path) -> std::io::Result<String> {
    let file = fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_TRACE_BYTES {
        return Err(std::io::Error::other(format!(
            "{size} bytes, more than the {MAX_TRACE_BYTES} the drill reads"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TRACE_BYTES).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process that received `oks` OKs (after READY) on stdout pipe 9,
    /// its record `text` (none: no file).
    fn judged(text: Option<&str>, oks: usize) -> Result<Judgement, String> {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("store-1.strace");
        if let Some(text) = text {
            fs::write(&trace, text).unwrap();
        }
        let put = Request::Put {
            key: "k".into(),
            value: "v".into(),
        };
        let run = TracedRun {
            trace,
            dir: PathBuf::from("/d"),
            existing: BTreeSet::new(),
            at_start: DirState::default(),
            cwd: PathBuf::from("/"),
            stdout_inode: 9,
            readable: Vec::new(),
            exchanges: vec![
                Exchange {
                    request: put,
                    around: None,
                };
                oks
            ],
            lines_received: oks + 1,
            oks_received: oks,
        };
        judge(&[run])
    }

    const WHOLE: &str = "7 write(1<pipe:[9]>, \"READY\\n\", 6) = 6\n\
        7 write(3</d/log>, \"r\", 1) = 1\n\
        7 fsync(3</d/log>) = 0\n\
        7 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n\
        7 +++ exited with 0 +++\n";

    #[test]
    fn a_whole_record_that_shows_every_ok_is_judged() {
        let judgement = judged(Some(WHOLE), 1).unwrap();
        assert_eq!((judgement.acknowledged, judgement.violation), (1, None));
    }

    #[test]
    fn a_record_cut_short_cannot_be_judged() {
        let cut = WHOLE.replace("7 +++ exited with 0 +++\n", "");
        let err = judged(Some(&cut), 1).unwrap_err();
        assert!(err.contains("stops before the process ended"), "{err}");
        // Emptied: the same.
        let err = judged(Some(""), 1).unwrap_err();
        assert!(err.contains("stops before the process ended"), "{err}");
        let err = judged(None, 1).unwrap_err();
        assert!(err.contains("missing or unreadable"), "{err}");
        // A process that acknowledged nothing has nothing to judge.
        judged(None, 0).unwrap();
    }

    #[test]
    fn changes_outside_the_directory_are_named() {
        let inside = "7 openat(AT_FDCWD</>, \"/d/log\", O_RDWR|O_CREAT, 0644) = 3</d/log>\n\
            7 write(1<pipe:[9]>, \"READY\\n\", 6) = 6\n\
            7 openat(AT_FDCWD</>, \"/dev/null\", O_WRONLY) = 4</dev/null>\n\
            7 openat(AT_FDCWD</>, \"/etc/passwd\", O_RDONLY) = 5</etc/passwd>\n\
            7 openat(AT_FDCWD</>, \"/proc/7/coredump_filter\", O_RDWR) = 8</proc/7/coredump_filter>\n\
            7 write(6<anon_inode:[eventfd]>, \"\\1\\0\\0\\0\\0\\0\\0\\0\", 8) = 8\n";
        let read = |text: &str| {
            let dir = tempfile::tempdir().unwrap();
            let trace = dir.path().join("t");
            fs::write(&trace, text).unwrap();
            read_outside(&[TracedRun {
                trace,
                dir: PathBuf::from("/d"),
                existing: BTreeSet::new(),
                at_start: DirState::default(),
                cwd: PathBuf::from("/"),
                stdout_inode: 9,
                readable: ["/etc", "/dev", "/proc"].map(PathBuf::from).to_vec(),
                exchanges: Vec::new(),
                lines_received: 1,
                oks_received: 0,
            }])
        };
        let run = |text: &str| {
            let dir = tempfile::tempdir().unwrap();
            let trace = dir.path().join("t");
            fs::write(&trace, text).unwrap();
            outside_dir(&[TracedRun {
                trace,
                dir: PathBuf::from("/d"),
                existing: BTreeSet::new(),
                at_start: DirState::default(),
                cwd: PathBuf::from("/"),
                stdout_inode: 9,
                readable: vec![PathBuf::from("/etc")],
                exchanges: Vec::new(),
                lines_received: 1,
                oks_received: 0,
            }])
        };
        assert_eq!(run(inside), None);
        assert_eq!(read(inside), None);
        assert_eq!(
            read(&format!(
                "{inside}7 openat(AT_FDCWD</>, \"/home/u/secret\", O_RDONLY) = 7</home/u/secret>\n"
            ))
            .as_deref(),
            Some("/home/u/secret by store process 1")
        );
        for (line, found) in [
            (
                "7 openat(AT_FDCWD</>, \"/home/u/x\", O_WRONLY|O_CREAT, 0644) = 6</home/u/x>\n",
                "/home/u/x (open for writing) by store process 1",
            ),
            (
                "7 renameat2(AT_FDCWD</d>, \"log\", AT_FDCWD</d>, \"../stolen\", 0) = 0\n",
                "/stolen (rename) by store process 1",
            ),
            (
                "7 unlinkat(AT_FDCWD</d>, \"../other/log\", 0) = 0\n",
                "/other/log (unlink) by store process 1",
            ),
            (
                "7 mkdirat(AT_FDCWD</>, \"/tmp/mine\", 0755) = 0\n",
                "/tmp/mine (mkdirat) by store process 1",
            ),
            (
                "7 openat(AT_FDCWD</>, \"/proc/1/oom_score_adj\", O_WRONLY) = 9</proc/1/oom_score_adj>\n",
                "/proc/1/oom_score_adj (open for writing) by store process 1",
            ),
        ] {
            assert_eq!(
                run(&format!("{inside}{line}")).as_deref(),
                Some(found),
                "{line}"
            );
        }
    }

    #[test]
    fn oks_the_record_does_not_show_cannot_be_judged() {
        let err = judged(Some(WHOLE), 2).unwrap_err();
        assert!(
            err.contains("the drill read 3 lines from store process 1, 2 of them OK, but its record shows 2 lines written to its stdout, 1 of them OK"),
            "{err}"
        );
    }
}
