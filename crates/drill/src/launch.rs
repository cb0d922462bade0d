//! Starting a store: the one place that decides how a store process is
//! launched.
//!
//! A store runs as `[strace ... --] [LAUNCHER --launch ... --] CMD... DIR`:
//! strace when its system calls are recorded for the power-loss check
//! (`traces`), the drill's own launcher when it is confined (`confine`),
//! always in a process group of its own (`tree`), with its three standard
//! streams piped. The process runner (`process/`) calls [`launch`]; the
//! power-loss check only reads the records it leaves.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use crate::check::{Doing, Error, Result};
use crate::files::DirState;
use crate::program::find_program;
use crate::readable;
use crate::store::Store;
use crate::traces::{Recorder, TRACED_CALLS, TracedRun};
use crate::tree;

/// A store process just started.
pub struct Launched {
    /// The direct child: strace when traced, else the store (its launcher).
    pub child: Child,
    /// Whether [`Launched::child`] is strace, the store being its child.
    pub tracer: bool,
    /// Where its system calls are recorded, and what the drill sees of it.
    pub traced: Option<(Arc<Recorder>, TracedRun)>,
}

/// Starts `store` on `dir`.
pub fn launch(store: &Store, dir: &Path) -> Result<Launched> {
    let not_found = || Error::Check {
        what: format!("start the store ({})", store.command_line()),
        expected: "a running process".to_string(),
        found: "error: No such file or directory (os error 2)".to_string(),
        why: Some(
            "check the --store command: the program must exist and be executable \
             (a script needs its interpreter, e.g. \"python3 kvstore.py\")"
                .to_string(),
        ),
    };
    let (program, args) = store.program_and_args(dir);
    // Under a launcher, a missing program would only show as an early exit:
    // say what is wrong before starting anything.
    let resolved = find_program(&program.to_string_lossy()).ok_or_else(not_found)?;
    let root = store.confinement().and_then(|c| c.store_root.as_deref());
    if let Some(outside) = readable::program_outside(&resolved, store.words(), root) {
        return Err(Error::Check {
            what: format!("start the store ({})", store.command_line()),
            expected: "a program inside the store's own folder, or one found on PATH".to_string(),
            found: format!("{} (outside {})", outside.display(), root.unwrap_or(dir).display()),
            why: Some(
                "a class run starts only the student's own program: name it relative to the repository (./kvstore), or an interpreter by name (python3)"
                    .to_string(),
            ),
        });
    }
    let readable = readable::readable_paths(&resolved, store.words(), root);
    let mut command = match store.confinement() {
        Some(confinement) => {
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|arg| arg.as_os_str()).collect();
            confinement.command(dir, &readable, program.as_os_str(), &args)
        }
        None => {
            let mut command = Command::new(&program);
            command.args(&args);
            command
        }
    };
    let mut traced = None;
    if let Some(recorder) = store.recorder()
        && let Some(strace) = recorder.strace()
    {
        let trace = recorder.next_trace().doing(format!(
            "make the folder for system-call records {}",
            recorder.dir().display()
        ))?;
        command = under_strace(strace, &trace, &command);
        let at_start = DirState::read(dir)?;
        let existing = at_start.paths().map(Path::to_path_buf).collect();
        let canonical = dir
            .canonicalize()
            .doing(format!("find the real path of {}", dir.display()))?;
        traced = Some((
            Arc::clone(recorder),
            TracedRun {
                trace,
                dir: canonical,
                existing,
                at_start,
                cwd: std::env::current_dir().unwrap_or_default(),
                stdout_inode: 0,
                exchanges: Vec::new(),
                readable: readable::SYSTEM
                    .iter()
                    .map(PathBuf::from)
                    .chain(readable)
                    .collect(),
                lines_received: 0,
                oks_received: 0,
            },
        ));
    }
    command
        // Python writes bytecode caches beside the modules it imports,
        // outside DIR; the store is not to write there.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = tree::spawn(&mut command).map_err(|err| Error::Check {
        what: format!("start the store ({})", store.command_line()),
        expected: "a running process".to_string(),
        found: format!("error: {err}"),
        why: Some("the drill could not start the store's process".to_string()),
    })?;
    tree::track_group(child.id());
    Ok(Launched {
        child,
        tracer: traced.is_some(),
        traced,
    })
}

/// `command` run under strace, its record written to `trace`.
fn under_strace(strace: &Path, trace: &PathBuf, command: &Command) -> Command {
    let mut wrapped = Command::new(strace);
    wrapped
        // -q, not -qq: the record must say when each process ended, so
        // that a record cut short shows.
        .args([
            "-f",
            "--seccomp-bpf",
            "-y",
            "-q",
            "-s",
            "4096",
            "-e",
            TRACED_CALLS,
            "-o",
        ])
        .arg(trace)
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args());
    wrapped
}
