//! Nothing a class run starts outlives it: a build's `setsid` daemon, a
//! build's child in a process group of its own when the build times out, and
//! everything running when the instructor presses Ctrl-C (which ends the run
//! with exit code 130, its temporary folders removed and the students that
//! finished remembered).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::real::{build, root};
use common::write;

/// Long enough for the checker's own `cargo build` of the drills on a
/// loaded machine.
const BOUND: Duration = Duration::from_secs(600);

/// Whether `pid` runs (a zombie has ended).
fn is_running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .next();
        state != Some("Z")
    })
}

/// The pid a build wrote to `file`.
fn pid_in(file: &Path) -> u32 {
    let text = fs::read_to_string(file)
        .unwrap_or_else(|err| panic!("{}: {err}: the build did not run", file.display()));
    text.trim().parse().unwrap()
}

/// Processes whose working folder is inside `folder`.
fn running_in(folder: &Path) -> Vec<u32> {
    let folder = fs::canonicalize(folder).unwrap();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            is_running(pid)
                && fs::read_link(format!("/proc/{pid}/cwd"))
                    .is_ok_and(|cwd| cwd.starts_with(&folder))
        })
        .collect()
}

/// `checker run w09-l07 --class CLASS` with its own TMPDIR, started.
fn class_run(class: &Path, results: &Path, temporary: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .current_dir(root())
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-drills"),
        )
        .env("TMPDIR", temporary)
        .args(["run", "w09-l07", "--format", "csv", "--class"])
        .arg(class)
        .arg("--results")
        .arg(results)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded) for `child` to end; its exit code, stdout and stderr.
fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the class run did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `checker-build-*` folders in `temporary`.
fn build_folders(temporary: &Path) -> Vec<PathBuf> {
    fs::read_dir(temporary)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().contains("checker-build-"))
        .collect()
}

/// After a class run: each process whose pid a build wrote to a file has
/// ended, nothing runs in `class`, and no build folder is left in
/// `temporary`.
fn nothing_left(class: &Path, temporary: &Path, written: &[(PathBuf, &str)]) {
    for (file, what) in written {
        let pid = pid_in(file);
        assert!(!is_running(pid), "{what} {pid} outlived the class run");
    }
    assert_eq!(running_in(class), Vec::<u32>::new(), "left running");
    assert_eq!(build_folders(temporary), Vec::<PathBuf>::new());
}

#[test]
#[cfg(target_os = "linux")]
fn a_builds_daemon_and_a_timed_out_builds_own_group_child_end_with_the_run() {
    build();
    let class = tempfile::tempdir().unwrap();
    let class = class.path();
    // Dan's build leaves a daemon (a session of its own) and fails.
    write(
        &class.join("dan/store.toml"),
        "build = \"setsid sh -c 'echo $$ > daemon.pid; while :; do sleep 5; done' \
         </dev/null >/dev/null 2>&1 & while [ ! -s daemon.pid ]; do :; done; exit 1\"\n\
         run = \"./kvstore\"\n",
    );
    // Tim's build starts a child in a group of its own (GNU timeout makes
    // one) and then hangs until its build timeout.
    write(
        &class.join("tim/store.toml"),
        "build = \"timeout 600 sh -c 'echo $$ > child.pid; while :; do sleep 5; done' & \
         while [ ! -s child.pid ]; do :; done; exec sleep 600\"\nrun = \"./kvstore\"\n",
    );
    // Sid's build dies of a signal, which its row names.
    write(
        &class.join("sid/store.toml"),
        "build = \"kill -SEGV $$\"\nrun = \"./kvstore\"\n",
    );
    let results = tempfile::tempdir().unwrap();
    let temporary = tempfile::tempdir().unwrap();
    let run = class_run(
        class,
        results.path(),
        temporary.path(),
        &["--jobs", "2", "--build-timeout", "8"],
    );
    let (code, csv, stderr) = finish(run);
    assert_eq!(code, Some(1), "{csv}{stderr}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("dan,w09-l07,error,0,the store's build exited with code 1")),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("tim,w09-l07,error,0,the store's build timed out after 8 s")),
        "{csv}"
    );
    assert!(
        csv.lines().any(|l| l
            .starts_with("sid,w09-l07,error,0,the store's build killed by signal 11 (SIGSEGV)")),
        "{csv}"
    );
    nothing_left(
        class,
        temporary.path(),
        &[
            (class.join("dan/daemon.pid"), "the build's daemon"),
            (class.join("tim/child.pid"), "the build's own-group child"),
        ],
    );
}

#[test]
#[cfg(target_os = "linux")]
fn ctrl_c_ends_every_build_keeps_what_finished_and_exits_130() {
    build();
    let class = tempfile::tempdir().unwrap();
    let class = class.path();
    // Students run in name order, one at a time: Ann (no manifest: an
    // error row at once) finishes, Bea's build runs when Ctrl-C comes, Cal
    // never starts.
    write(&class.join("ann/README.md"), "no store yet\n");
    write(
        &class.join("bea/store.toml"),
        "build = \"timeout 600 sh -c 'echo $$ > child.pid; exec sleep 1234' & \
         while [ ! -s child.pid ]; do :; done; touch running; wait\"\nrun = \"./kvstore\"\n",
    );
    write(
        &class.join("cal/store.toml"),
        "build = \"touch built\"\nrun = \"./kvstore\"\n",
    );
    let results = tempfile::tempdir().unwrap();
    let temporary = tempfile::tempdir().unwrap();
    let run = class_run(class, results.path(), temporary.path(), &["--jobs", "1"]);
    let marker = class.join("bea/running");
    let deadline = Instant::now() + BOUND;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "Bea's build never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let checker = nix::unistd::Pid::from_raw(i32::try_from(run.id()).unwrap());
    nix::sys::signal::kill(checker, nix::sys::signal::Signal::SIGINT).unwrap();
    let (code, csv, stderr) = finish(run);
    assert_eq!(code, Some(130), "{csv}{stderr}");
    assert_eq!(csv, "", "no gradebook after Ctrl-C");
    assert!(
        stderr.contains("interrupted: every build and drill was ended; 1 of 3 students finished"),
        "{stderr}"
    );
    nothing_left(
        class,
        temporary.path(),
        &[(class.join("bea/child.pid"), "Bea's build's child")],
    );
    assert!(
        !class.join("cal/built").exists(),
        "Cal's build started after Ctrl-C"
    );
    let remembered: serde_json::Value =
        serde_json::from_slice(&fs::read(results.path().join("results.json")).unwrap()).unwrap();
    let students: Vec<&String> = remembered["students"].as_object().unwrap().keys().collect();
    assert_eq!(students, ["ann"], "{remembered}");
}

/// A drill binary's launcher in `--reap` mode (as a class run starts a
/// build), in `folder`, running `script` with `sh -c`.
fn reaping_launcher(folder: &Path, script: &str) -> Child {
    reaping_launcher_with(folder, script, &[])
}

/// [`reaping_launcher`] with `--launch` options before the `--`.
fn reaping_launcher_with(folder: &Path, script: &str, options: &[&str]) -> Child {
    let drills = build();
    let (_, launcher) = drills
        .iter()
        .find(|(name, _)| name == "test_crash_after_wal")
        .expect("the w09-l07 drill built");
    Command::new(launcher)
        .current_dir(folder)
        .args(["--launch", "--reap", "--dir"])
        .arg(folder)
        .args(options)
        .args(["--", "/bin/sh", "-c", script])
        .env("GH_TOKEN", "ghp_instructor_secret")
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn a_reaping_launcher_ends_what_its_program_left_and_ends_as_it_did() {
    use std::os::unix::process::ExitStatusExt;
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    // A daemon left behind, then exit code 3. This test process is no
    // subreaper: only the launcher can end the daemon.
    let mut launcher = reaping_launcher(
        folder,
        "setsid sh -c 'echo $$ > daemon.pid; while :; do sleep 5; done' </dev/null >/dev/null 2>&1 & \
         while [ ! -s daemon.pid ]; do :; done; exit 3",
    );
    assert_eq!(launcher.wait().unwrap().code(), Some(3));
    let daemon = pid_in(&folder.join("daemon.pid"));
    assert!(
        !is_running(daemon),
        "the daemon {daemon} outlived its launcher"
    );

    // A program killed by a signal: the launcher dies of the same signal.
    let mut launcher = reaping_launcher(folder, "kill -SEGV $$");
    assert_eq!(launcher.wait().unwrap().signal(), Some(11));

    // SIGTERM to the launcher alone: it ends the program's tree (a child in
    // a group of its own among it), then dies of SIGTERM.
    let mut launcher = reaping_launcher(
        folder,
        "timeout 600 sh -c 'echo $$ > child.pid; exec sleep 1234' & \
         while [ ! -s child.pid ]; do :; done; touch running; wait",
    );
    let deadline = Instant::now() + BOUND;
    while !folder.join("running").exists() {
        assert!(Instant::now() < deadline, "the program never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(launcher.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(launcher.wait().unwrap().signal(), Some(15));
    let child = pid_in(&folder.join("child.pid"));
    assert!(
        !is_running(child),
        "the program's child {child} outlived its launcher"
    );
    assert_eq!(running_in(folder), Vec::<u32>::new(), "left running");
}

#[test]
#[cfg(target_os = "linux")]
fn a_build_sees_no_secret_of_its_environment_and_only_the_toolchains() {
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    // The instructor's token is in the launcher's environment (above); the
    // build writes what it sees, and tries to read a secret beside it.
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("key"), "instructor-key").unwrap();
    let script = format!(
        "env > seen.txt; cat {}/key >> seen.txt 2>/dev/null; echo done >> seen.txt",
        secret.path().display()
    );
    let mut launcher = reaping_launcher_with(folder, &script, &["--toolchains", "--network"]);
    assert_eq!(launcher.wait().unwrap().code(), Some(0));
    let seen = std::fs::read_to_string(folder.join("seen.txt")).unwrap();
    assert!(seen.contains("PATH=") && seen.ends_with("done\n"), "{seen}");
    assert!(!seen.contains("ghp_instructor_secret"), "{seen}");
    // Landlock (where the kernel has it) keeps the folder beside closed.
    if landlock_enforced() {
        assert!(!seen.contains("instructor-key"), "{seen}");
    }
}

/// Whether this kernel enforces Landlock (what the launcher's probe says).
fn landlock_enforced() -> bool {
    let drills = build();
    let (_, launcher) = drills
        .iter()
        .find(|(name, _)| name == "test_crash_after_wal")
        .expect("the w09-l07 drill built");
    let output = Command::new(launcher)
        .args(["--launch", "--probe"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).contains("FullyEnforced")
}
