//! Confinement: the launcher a store runs through.
//!
//! `unsafe` is forbidden, so the drill cannot restrict a child between its
//! `fork` and its `exec`. Instead it starts itself again as a small launcher
//! (the hidden `--launch`, read before any other argument), which confines
//! itself and then `exec`s the store, which inherits every restriction:
//!
//! * it leads a process group of its own, so that the drill ends the store's
//!   whole tree with one `killpg` (under strace, the tracer stays outside);
//! * resource limits ([`Limits`]) on memory, file size, CPU time, open files
//!   and processes, and no core files;
//! * with Landlock (Linux 5.13 on), read and write access beneath DIR only,
//!   read and execute access to the system's folders and to the files the
//!   `--store` command names (and their folders: for a program in a `bin/`
//!   folder, the installation above it), and no signals to processes outside
//!   its own tree, and no TCP (a store talks over its standard streams; a
//!   build may be given the network, `--network`, to fetch its
//!   dependencies). Where the kernel has no Landlock, the store runs
//!   unconfined and the transcript says so ([`probe`]); the limits apply
//!   all the same;
//! * an environment cleared down to what finds a program and its runtime
//!   ([`KEPT_ENVIRONMENT`]): the instructor's tokens, agent sockets and
//!   other secrets in their environment never reach a student's code.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use rlimit::Resource;

use crate::readable::{self, SYSTEM};

/// The hidden flag that makes a drill binary serve the reference store:
/// `--serve DIR` (the launcher serves it itself when asked to run it).
pub const SERVE_FLAG: &str = "--serve";

/// The hidden first argument that makes a drill binary a launcher:
/// `--launch [--dir DIR]... [--read PATH]... [--toolchains] [--network]
/// [--limit NAME=N]... [--reap] -- PROGRAM ARGS...` (several `--dir`s, the
/// toolchains on `PATH` and the network: `checker run --class` builds a
/// student's store with write access to their folder and a temporary one;
/// `--reap`: the launcher stays, runs the program as its child and ends all
/// it left, see [`crate::reap`]).
pub const LAUNCH_FLAG: &str = "--launch";
/// `--launch --probe`: confine nothing, report whether Landlock applies.
const PROBE: &str = "--probe";

/// The newest Landlock ABI these rules were written and tested for.
#[cfg(target_os = "linux")]
const LANDLOCK_ABI: landlock::ABI = landlock::ABI::V6;

/// The environment variables a confined program keeps (and every `LC_*`):
/// what finds its interpreter, runtime and libraries, and the locale.
/// Everything else (tokens, `SSH_AUTH_SOCK`, cloud credentials, the
/// instructor's `CARGO_HOME`) is removed before it runs.
pub const KEPT_ENVIRONMENT: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "NO_COLOR",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "JAVA_HOME",
    "GOROOT",
    "NODE_PATH",
];

/// Devices a store may also write to.
#[cfg(target_os = "linux")]
const WRITABLE_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

/// The resource limits a store runs under; each is a drill flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--limit-memory MIB`: the store's data segment (`RLIMIT_DATA`: private
    /// writable memory, not the address ranges a JVM or Go runtime merely
    /// reserves).
    pub memory_mib: u64,
    /// `--limit-file-size MIB`: the largest file it may write (`RLIMIT_FSIZE`).
    pub file_size_mib: u64,
    /// `--limit-cpu SECONDS`: CPU time of each store process (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// `--limit-open-files N`: open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// `--limit-processes N`: processes the store may add to those its user
    /// runs now (`RLIMIT_NPROC` counts per user; root is exempt).
    pub processes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 1024,
            file_size_mib: 256,
            cpu_seconds: 60,
            open_files: 256,
            processes: 64,
        }
    }
}

impl Limits {
    /// The launcher's arguments for these limits.
    fn args(&self) -> Vec<String> {
        [
            ("memory", self.memory_mib),
            ("file-size", self.file_size_mib),
            ("cpu", self.cpu_seconds),
            ("open-files", self.open_files),
            // RLIMIT_NPROC counts every process of the user: counted at
            // each start, so that processes other runs of the same user
            // started meanwhile (a class run's other students) do not eat
            // this store's share.
            ("nproc", user_processes().saturating_add(self.processes)),
        ]
        .iter()
        .map(|(name, value)| format!("--limit={name}={value}"))
        .collect()
    }

    /// One phrase for the transcript.
    pub fn describe(&self) -> String {
        format!(
            "memory {} MiB, files up to {} MiB, {} s of CPU, {} open files, {} more processes, no core files",
            self.memory_mib, self.file_size_mib, self.cpu_seconds, self.open_files, self.processes
        )
    }

    fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        match name {
            "memory" => self.memory_mib = value,
            "file-size" => self.file_size_mib = value,
            "cpu" => self.cpu_seconds = value,
            "open-files" => self.open_files = value,
            "processes" => self.processes = value,
            // Already the user's count plus `processes` (see `args`).
            "nproc" => self.processes = value,
            other => return Err(format!("unknown limit {other:?}")),
        }
        Ok(())
    }

    fn apply(&self) -> std::io::Result<()> {
        const MIB: u64 = 1 << 20;
        let mut limits = vec![
            (Resource::DATA, self.memory_mib.saturating_mul(MIB)),
            (Resource::FSIZE, self.file_size_mib.saturating_mul(MIB)),
            (Resource::CPU, self.cpu_seconds),
            (Resource::NOFILE, self.open_files),
            (Resource::CORE, 0),
        ];
        // Counted from /proc, so Linux only (elsewhere the limit would
        // count every process of the user against a small number).
        if cfg!(target_os = "linux") {
            limits.push((Resource::NPROC, self.processes));
        }
        for (resource, value) in limits {
            // Never raise a limit that is already lower.
            let (soft, hard) = rlimit::getrlimit(resource)?;
            rlimit::setrlimit(resource, value.min(soft), value.min(hard))?;
        }
        Ok(())
    }
}

/// A bound on what `RLIMIT_NPROC` counts for this user now: it counts every
/// task (thread) of the user, so the machine's count of tasks, one read of
/// `/proc/loadavg` (its fourth field, `running/total`), is at least that and
/// cheap enough to read at every start. Where it cannot be read, the user's
/// processes in `/proc`.
fn user_processes() -> u64 {
    let tasks = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| {
            let field = text.split_whitespace().nth(3)?;
            field.split_once('/')?.1.parse::<u64>().ok()
        });
    tasks.unwrap_or_else(|| {
        use std::os::unix::fs::MetadataExt;
        let uid = nix::unistd::getuid().as_raw();
        std::fs::read_dir("/proc").map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| {
                    entry
                        .file_name()
                        .to_str()
                        .is_some_and(|name| name.parse::<u32>().is_ok())
                })
                .filter(|entry| entry.metadata().is_ok_and(|meta| meta.uid() == uid))
                .count() as u64
        })
    })
}

/// What confines a store: the launcher (this drill binary) and the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    pub launcher: PathBuf,
    pub limits: Limits,
    /// `--store-root DIR`: the store's own files lie beneath DIR, and no
    /// file its command names outside it becomes readable (a class run
    /// passes the student's folder: a store must not read a classmate's
    /// store, the class's results, or the instructor's files by naming
    /// them).
    pub store_root: Option<PathBuf>,
}

impl Confinement {
    /// The command that confines itself to `dir` and runs `program` with
    /// `args`, reading and executing also beneath `readable`.
    pub fn command(
        &self,
        dir: &Path,
        readable: &[PathBuf],
        program: &OsStr,
        args: &[&OsStr],
    ) -> Command {
        let mut command = Command::new(&self.launcher);
        command.arg(LAUNCH_FLAG).arg("--dir").arg(dir);
        for path in readable {
            command.arg("--read").arg(path);
        }
        command
            .args(self.limits.args())
            .arg("--")
            .arg(program)
            .args(args);
        command
    }

    /// Whether Landlock confines a store on this kernel: asks a launcher,
    /// which restricts itself and says how it went. `Err` names why not.
    pub fn probe(&self) -> Result<Enforced, String> {
        probe(&self.launcher)
    }
}

/// How much of the ruleset an older kernel's Landlock enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforced {
    Fully,
    /// The file rules of an older ABI, without some rights (such as the
    /// signal scope, Linux 6.12).
    Partly,
}

/// Runs `launcher --launch --probe`: how far Landlock was enforced.
pub fn probe(launcher: &Path) -> Result<Enforced, String> {
    let mut command = Command::new(launcher);
    command
        .args([LAUNCH_FLAG, PROBE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // Registered, so that no sweep for orphans takes it for one.
    let child = crate::tree::spawn(&mut command);
    let output = child.and_then(|child| {
        let pid = child.id();
        let output = child.wait_with_output();
        crate::tree::forget(pid);
        output
    });
    let output = output.map_err(|err| format!("cannot run {}: {err}", launcher.display()))?;
    let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if said == "FullyEnforced" {
        Ok(Enforced::Fully)
    } else if said == "PartiallyEnforced" {
        Ok(Enforced::Partly)
    } else {
        Err(format!(
            "Landlock {}",
            if said.is_empty() {
                "status unknown".into()
            } else {
                said
            }
        ))
    }
}

/// The launcher's `main`: `args` are those after [`LAUNCH_FLAG`]. Returns
/// on failure (after `exec`, the store runs in this process), or when the
/// store is this very binary serving the reference store, which `serve`
/// then does in this process, confined, without a second `exec`.
pub fn launch_main(args: Vec<OsString>, serve: impl FnOnce(&Path) -> ExitCode) -> ExitCode {
    match launch(args) {
        Ok(ServeHere(dir)) => serve(&dir),
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "drill launcher: {err}");
            ExitCode::from(127)
        }
    }
}

/// The launcher confined itself to run the reference store on this
/// directory, being the drill binary that serves it.
struct ServeHere(PathBuf);

fn launch(args: Vec<OsString>) -> Result<ServeHere, String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut readable = Vec::new();
    let mut limits = Limits::default();
    let mut network = false;
    let mut rest = args.into_iter();
    let mut program = Vec::new();
    let mut reap = false;
    while let Some(arg) = rest.next() {
        match arg.to_str() {
            Some(PROBE) => {
                let status = restrict(&[PathBuf::from("/nonexistent-drill-probe")], &[], false)?;
                println!("{status}");
                std::process::exit(0);
            }
            Some("--dir") => dirs.extend(rest.next().map(PathBuf::from)),
            Some("--read") => readable.extend(rest.next().map(PathBuf::from)),
            Some("--toolchains") => readable.extend(readable::toolchains()),
            Some("--network") => network = true,
            Some(crate::reap::REAP_FLAG) => reap = true,
            Some("--") => {
                program.extend(rest.by_ref());
                break;
            }
            Some(text) if text.starts_with("--limit=") => {
                let (name, value) = text["--limit=".len()..]
                    .split_once('=')
                    .ok_or_else(|| format!("bad limit {text:?}"))?;
                let value = value.parse().map_err(|_| format!("bad limit {text:?}"))?;
                limits.set(name, value)?;
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if dirs.is_empty() {
        return Err("no --dir".into());
    }
    let Some((program, args)) = program.split_first() else {
        return Err("no program after --".into());
    };
    // Its own group: the drill ends the store's whole tree with one killpg.
    // Already a leader (started with process_group(0)) is fine.
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    limits
        .apply()
        .map_err(|err| format!("cannot set resource limits: {err}"))?;
    restrict(&dirs, &readable, network)?;
    if let [flag, served] = args
        && flag == SERVE_FLAG
        && is_this_executable(Path::new(program))
    {
        return Ok(ServeHere(PathBuf::from(served)));
    }
    if reap {
        return Err(
            crate::reap::run_and_reap(Path::new(program), args, kept_environment()).unwrap_err(),
        );
    }
    let mut command = Command::new(program);
    command.args(args).env_clear().envs(kept_environment());
    let err = command.exec();
    Err(format!(
        "cannot run {}: {err}",
        Path::new(program).display()
    ))
}

/// This process's environment variables that [`KEPT_ENVIRONMENT`] keeps.
pub fn kept_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| {
            name.to_str()
                .is_some_and(|name| KEPT_ENVIRONMENT.contains(&name) || name.starts_with("LC_"))
        })
        .collect()
}

/// Whether `program` is the running executable (a second `exec` of it
/// would only cost time).
fn is_this_executable(program: &Path) -> bool {
    let this = std::env::current_exe().and_then(|exe| exe.canonicalize());
    matches!((this, program.canonicalize()), (Ok(this), Ok(program)) if this == program)
}

/// Landlock on this process: read and write beneath `dirs`, read and
/// execute on the system and `readable`, no signals out of its domain,
/// and no TCP unless `network`.
#[cfg(target_os = "linux")]
fn restrict(dirs: &[PathBuf], readable: &[PathBuf], network: bool) -> Result<String, String> {
    use landlock::{
        Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
        path_beneath_rules,
    };
    let abi = LANDLOCK_ABI;
    let fail = |err: landlock::RulesetError| format!("cannot confine the store: {err}");
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        // Handled with no rule allowing a port: neither bind nor connect.
        .and_then(|ruleset| {
            if network {
                Ok(ruleset)
            } else {
                ruleset.handle_access(AccessNet::from_all(abi))
            }
        })
        .and_then(|ruleset| ruleset.scope(Scope::from_all(abi)))
        .and_then(|ruleset| ruleset.create())
        .and_then(|ruleset| {
            ruleset.add_rules(path_beneath_rules(
                SYSTEM
                    .iter()
                    .map(Path::new)
                    .chain(readable.iter().map(PathBuf::as_path)),
                AccessFs::from_read(abi),
            ))
        })
        .and_then(|ruleset| {
            ruleset.add_rules(path_beneath_rules(
                WRITABLE_DEVICES,
                AccessFs::from_all(abi),
            ))
        })
        .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(dirs, AccessFs::from_all(abi))))
        .and_then(|ruleset| ruleset.restrict_self())
        .map_err(fail)?;
    Ok(format!("{:?}", status.ruleset))
}

/// No Landlock off Linux: the store runs unconfined (the limits apply).
#[cfg(not(target_os = "linux"))]
fn restrict(_dirs: &[PathBuf], _readable: &[PathBuf], _network: bool) -> Result<String, String> {
    Ok("NotEnforced (not Linux)".to_string())
}

/// The transcript's line saying what confined the store.
pub fn describe(confinement: Option<&Confinement>) -> String {
    static PROBED: std::sync::OnceLock<Result<Enforced, String>> = std::sync::OnceLock::new();
    let Some(confinement) = confinement else {
        return "confinement: none (this run has no launcher): the store ran unconfined, without limits".to_string();
    };
    let limits = confinement.limits.describe();
    match PROBED.get_or_init(|| confinement.probe()) {
        Ok(Enforced::Fully) => format!(
            "confinement: Landlock (read and write beneath DIR only; read and execute on the system and the store's own files; no signals outside its tree); limits: {limits}"
        ),
        Ok(Enforced::Partly) => format!(
            "confinement: Landlock, partly (this kernel's Landlock lacks some rights, such as the signal scope; files: read and write beneath DIR only, read and execute on the system and the store's own files); limits: {limits}"
        ),
        Err(reason) => format!(
            "confinement: none ({reason} on this kernel): the store ran unconfined; limits: {limits}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_travel_to_the_launcher_by_name() {
        let limits = Limits {
            memory_mib: 7,
            ..Limits::default()
        };
        let args = limits.args();
        assert!(args.contains(&"--limit=memory=7".to_string()), "{args:?}");
        let mut parsed = Limits::default();
        for arg in &args {
            let (name, value) = arg["--limit=".len()..].split_once('=').unwrap();
            parsed.set(name, value.parse().unwrap()).unwrap();
        }
        assert_eq!(parsed.memory_mib, 7);
        assert!(parsed.processes >= limits.processes);
        assert!(parsed.set("bogus", 1).is_err());
    }
}
