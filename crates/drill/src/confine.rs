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

/// The system's folders a store may read and execute from.
pub const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix",
    "/proc", "/sys", "/dev",
];
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
            Some("--toolchains") => readable.extend(toolchains()),
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

/// The paths a store command may read and execute besides the system: the
/// program, with its folder (and the one above a `bin/` folder, where an
/// interpreter's libraries live, or above a version manager's `shims/`),
/// and each word that names an existing file, with its folder and the
/// folder above (a store's script often imports a module beside its own
/// folder), each both as given and with links resolved.
///
/// With a `root` (`--store-root`), a word outside it grants nothing, and a
/// word's folder above is granted only while it is still beneath `root`:
/// `python3 kv.py` run from a student's folder reads that folder, not the
/// class around it.
pub fn readable_paths(program: &Path, words: &[String], root: Option<&Path>) -> Vec<PathBuf> {
    let root = root.map(|root| root.canonicalize().unwrap_or_else(|_| root.to_path_buf()));
    let within = |path: &Path| root.as_ref().is_none_or(|root| path.starts_with(root));
    let mut paths = Vec::new();
    let mut add = |path: &Path, up: bool| {
        for path in [Some(path.to_path_buf()), path.canonicalize().ok()]
            .into_iter()
            .flatten()
        {
            if let Some(folder) = path.parent() {
                let above = folder.parent().filter(|above| *above != Path::new("/"));
                if let Some(above) = above
                    && up
                    && within(above)
                {
                    paths.push(above.to_path_buf());
                }
                paths.extend(installation(folder));
                paths.push(folder.to_path_buf());
            }
            paths.push(path);
        }
    };
    add(program, false);
    for word in words.iter().skip(1) {
        let path = Path::new(word);
        if !path.is_file() {
            continue;
        }
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // Resolved, so that neither `..` nor a link leads out of the root.
        if within(&path.canonicalize().unwrap_or_else(|_| path.clone())) && within(&path) {
            add(&path, true);
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// The installation a program's `folder` belongs to, beyond the folder
/// itself: above a `bin/` folder that sits beside a `lib/`, `lib64/` or
/// `libexec/` (an interpreter's prefix, where its libraries live), and
/// above a version manager's `shims/` (pyenv, asdf: the shim runs programs
/// kept there). Never a home folder or `/`: a `~/bin` or `~/.cargo/bin`
/// on `PATH` opens that folder alone, not the keys and credentials beside
/// it.
pub fn installation(folder: &Path) -> Option<PathBuf> {
    let above = folder.parent()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if above == Path::new("/") || home.as_deref() == Some(above) {
        return None;
    }
    let prefix = ["lib", "lib64", "libexec"]
        .iter()
        .any(|lib| above.join(lib).is_dir());
    let installed = match folder.file_name().and_then(OsStr::to_str) {
        Some("bin") => prefix,
        Some("shims") => true,
        _ => false,
    };
    installed.then(|| above.to_path_buf())
}

/// The toolchains on `PATH` outside the system's folders (a rustup or
/// pyenv toolchain in a home folder), for a build (`--toolchains`): each
/// such folder, its [`installation`], and rustup's toolchains
/// (`RUSTUP_HOME`, else `~/.rustup`), which `~/.cargo/bin`'s proxies run.
pub fn toolchains() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let system = SYSTEM.iter().any(|root| dir.starts_with(root));
        if system || !dir.is_dir() {
            continue;
        }
        found.extend(installation(&dir));
        found.push(dir);
    }
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".rustup")));
    found.extend(rustup.filter(|dir| dir.is_dir()));
    found.sort();
    found.dedup();
    found
}

/// Under a `root` (`--store-root`), a program named by a path (a word with
/// a `/`) that lies neither beneath the root nor in the system's folders nor
/// in a toolchain on `PATH` ([`toolchains`]), resolved: a classmate's
/// compiled store (`../bob/kvstore`), which [`readable_paths`] would
/// otherwise open to the store with its folder.
pub fn program_outside(program: &Path, words: &[String], root: Option<&Path>) -> Option<PathBuf> {
    let root = root?.canonicalize().ok()?;
    let named_by_path = words.first().is_some_and(|word| word.contains('/'));
    let resolved = program
        .canonicalize()
        .unwrap_or_else(|_| program.to_path_buf());
    let allowed = resolved.starts_with(&root)
        || SYSTEM.iter().any(|system| resolved.starts_with(system))
        || toolchains()
            .iter()
            .any(|toolchain| resolved.starts_with(toolchain));
    (named_by_path && !allowed).then_some(resolved)
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
    fn a_command_may_read_its_program_its_files_and_their_folders() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let shims = root.join("pyenv/shims");
        let scripts = root.join("course/store");
        std::fs::create_dir_all(&shims).unwrap();
        std::fs::create_dir_all(&scripts).unwrap();
        std::fs::write(shims.join("python3"), "").unwrap();
        std::fs::write(scripts.join("kv.py"), "").unwrap();
        let words = [
            "python3".to_string(),
            scripts.join("kv.py").display().to_string(),
            "--not-a-file".to_string(),
        ];
        let paths = readable_paths(&shims.join("python3"), &words, None);
        for expected in [
            root.join("pyenv"),
            shims.clone(),
            shims.join("python3"),
            root.join("course"),
            scripts.clone(),
            scripts.join("kv.py"),
        ] {
            assert!(paths.contains(&expected), "{expected:?} not in {paths:?}");
        }
        assert!(!paths.contains(&root), "{paths:?}");
        assert!(!paths.iter().any(|path| path.ends_with("--not-a-file")));
    }

    #[test]
    fn under_a_root_nothing_outside_it_becomes_readable() {
        let class = tempfile::tempdir().unwrap();
        let class = class.path().canonicalize().unwrap();
        let (alice, bob) = (class.join("alice"), class.join("bob"));
        std::fs::create_dir_all(alice.join("src")).unwrap();
        std::fs::create_dir_all(&bob).unwrap();
        for file in [
            alice.join("kv.py"),
            alice.join("src/kv.py"),
            bob.join("kv.py"),
        ] {
            std::fs::write(file, "").unwrap();
        }
        let python = Path::new("/usr/bin/python3");
        let words = |word: &Path| vec!["python3".to_string(), word.display().to_string()];
        let root = Some(alice.as_path());
        // Its own script: its folder, never the class around it.
        let own = readable_paths(python, &words(&alice.join("kv.py")), root);
        assert!(
            own.contains(&alice.join("kv.py")) && own.contains(&alice),
            "{own:?}"
        );
        assert!(!own.contains(&class), "{own:?}");
        // A script in a subfolder: the folder above is still its own.
        let nested = readable_paths(python, &words(&alice.join("src/kv.py")), root);
        assert!(nested.contains(&alice), "{nested:?}");
        // A classmate's script, named directly or through `..`: nothing.
        for word in [bob.join("kv.py"), alice.join("../bob/kv.py")] {
            let theirs = readable_paths(python, &words(&word), root);
            assert!(
                !theirs
                    .iter()
                    .any(|path| path.starts_with(&bob) || *path == class),
                "{theirs:?}"
            );
        }
        // Without a root, a named file's folder above is readable.
        let anywhere = readable_paths(python, &words(&bob.join("kv.py")), None);
        assert!(anywhere.contains(&class), "{anywhere:?}");
        // A program named by a path outside the root is refused; one found
        // on PATH, or in the system's folders, is not.
        let program = bob.join("kv.py");
        let by_path = vec![program.display().to_string()];
        assert_eq!(
            program_outside(&program, &by_path, root),
            Some(program.clone())
        );
        assert_eq!(
            program_outside(python, &words(&alice.join("kv.py")), root),
            None
        );
        let by_path = vec!["/usr/bin/python3".to_string()];
        assert_eq!(program_outside(python, &by_path, root), None);
    }

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
