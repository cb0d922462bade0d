//! The drill against stores that attack it (issue 20): each is the model
//! Python store with one hostile habit, built here in a folder of its own.
//! Each must end the drill in bounded time with a clear verdict, reach
//! nothing outside its directory (canary files), leave no process behind
//! (checked from /proc) and keep the drill's memory bounded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wait_timeout::ChildExt;

/// A hostile store: the model store's module beside a script that
/// subclasses it, in `root/store/`, with a canary folder outside it.
pub(crate) struct Hostile {
    root: TempDir,
    pub(crate) canary: TempDir,
    tmp: TempDir,
    command: String,
}

/// How a drill run ended.
pub(crate) struct Outcome {
    pub(crate) stdout: String,
    code: Option<i32>,
}

impl Outcome {
    fn verdict(&self) -> &str {
        let lines: Vec<&str> = self.stdout.lines().collect();
        lines.len().checked_sub(2).map_or("", |i| lines[i])
    }
}

/// The script's first lines; `CANARY` is the canary folder (written into
/// the script: a confined store keeps none of the drill's environment).
const PRELUDE: &str = r#"
import os, sys, signal, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvstore
"#;

impl Hostile {
    /// `body` defines `class Store(kvstore.KVStore)`; `None` without
    /// python3 (off CI).
    pub(crate) fn new(marker: &str, body: &str) -> Option<Hostile> {
        let python = drill::testing::python()?;
        let root = tempfile::Builder::new()
            .prefix("hostile-")
            .tempdir()
            .unwrap();
        let folder = root.path().join("store");
        fs::create_dir(&folder).unwrap();
        let model =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stores/python/kvstore.py");
        fs::copy(model, folder.join("kvstore.py")).unwrap();
        let script = folder.join(format!("{marker}.py"));
        let canary = tempfile::Builder::new()
            .prefix("canary-")
            .tempdir()
            .unwrap();
        fs::write(
            &script,
            format!("{PRELUDE}CANARY = {:?}\n{body}\nif __name__ == '__main__':\n    sys.exit(kvstore.main(sys.argv, Store))\n", canary.path().display().to_string()),
        )
        .unwrap();
        fs::write(canary.path().join("secret"), "canary-secret-text").unwrap();
        Some(Hostile {
            command: shell_words::join([python, script.display().to_string()]),
            root,
            canary,
            tmp: TempDir::new().unwrap(),
        })
    }

    pub(crate) fn script_path(&self) -> PathBuf {
        self.root.path().join("store")
    }

    /// Runs the drill against the store (bounded: 120 s), then checks that
    /// no process of it is left and nothing reached the canary folder.
    pub(crate) fn run(&self) -> Outcome {
        self.run_then(|_| {})
    }

    /// [`Hostile::run`], doing `meanwhile` with the drill's process while
    /// it runs.
    fn run_then(&self, meanwhile: impl FnOnce(&std::process::Child)) -> Outcome {
        self.run_with(&[], &[], meanwhile)
    }

    /// [`Hostile::run_then`] with more drill arguments and environment.
    pub(crate) fn run_with(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
        meanwhile: impl FnOnce(&std::process::Child),
    ) -> Outcome {
        let mut child = Command::new(env!("CARGO_BIN_EXE_test_crash_after_wal"))
            .args(["--store", &self.command])
            .args(args)
            .envs(envs.iter().copied())
            .env("TMPDIR", self.tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        meanwhile(&child);
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut text).unwrap();
            text
        });
        let status = child.wait_timeout(Duration::from_secs(120)).unwrap();
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the drill did not end within 120 s");
        }
        let stdout = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
        self.assert_nothing_left(&stdout);
        // The largest of this test process's children so far, each drill
        // with its stores: none took more than the bound.
        let usage =
            nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
        assert!(
            usage.max_rss() < 256 << 10,
            "peak RSS {} KiB\n{stdout}",
            usage.max_rss()
        );
        Outcome {
            stdout,
            code: status.and_then(|status| status.code()),
        }
    }

    fn assert_nothing_left(&self, stdout: &str) {
        let left = processes_running(&self.script_path());
        assert!(left.is_empty(), "left running: {left:?}\n{stdout}");
        let canaries: Vec<_> = fs::read_dir(self.canary.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(canaries, ["secret"], "{stdout}");
        assert!(!stdout.contains("canary-secret-text"), "{stdout}");
        assert!(
            fs::read_dir(self.tmp.path()).unwrap().next().is_none(),
            "the drill left files in TMPDIR\n{stdout}"
        );
    }
}

/// The processes (not zombies) whose command line names `folder`; zombies
/// and processes that die within the bound are not counted.
fn processes_running(folder: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found = processes_running_now(folder);
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn processes_running_now(folder: &Path) -> Vec<String> {
    let needle = folder.display().to_string();
    {
        let found: Vec<String> = fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| {
                let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let state = stat[stat.rfind(')')? + 2..].chars().next()?;
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (state != 'Z' && cmdline.contains(&needle)).then(|| format!("{pid} {cmdline}"))
            })
            .collect();
        found
    }
}

#[test]
fn a_child_left_running_after_crash_is_named_and_ended() {
    let Some(store) = Hostile::new(
        "forks_on_crash",
        r#"
class Store(kvstore.KVStore):
    def serve(self, requests, reply):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        return super().serve(requests, reply)
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert_eq!(outcome.code, Some(1), "{}", outcome.stdout);
    let verdict = outcome.verdict();
    assert!(verdict.starts_with("FAILED: CRASH: "), "{}", outcome.stdout);
    assert!(
        verdict.contains("the store left PID ") && verdict.contains("running after CRASH"),
        "{}",
        outcome.stdout
    );
    assert!(verdict.contains("forks_on_crash.py"), "{verdict}");
}

#[test]
fn writes_and_reads_outside_dir_are_refused() {
    let Some(store) = Hostile::new(
        "escapes_dir",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        for path in [os.path.join(self.directory, "..", "escaped"),
                     os.path.join(CANARY, "written"),
                     CANARY + "-sibling"]:
            try:
                with open(path, "w") as f:
                    f.write("x")
            except OSError as error:
                print(f"refused: {error.strerror}", file=sys.stderr)
        try:
            print(open(os.path.join(CANARY, "secret")).read(), file=sys.stderr)
        except OSError as error:
            print(f"refused: {error.strerror}", file=sys.stderr)
        return super().start()
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    let sibling = format!("{}-sibling", store.canary.path().display());
    assert!(!Path::new(&sibling).exists(), "{}", outcome.stdout);
    assert!(
        outcome
            .stdout
            .contains("store stderr: refused: Permission denied"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("confinement: Landlock")
            || outcome.stdout.contains("confinement: none"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn endless_output_is_cut_and_counted() {
    let Some(store) = Hostile::new(
        "floods",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        for n in range(20000):
            print(f"log line {n} \x1b]52;c;aGk=\x07\x1b[2J", file=sys.stderr)
        return super().start()

    def get(self, key):
        return "VALUE " + "x" * (8 << 20)
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert_eq!(outcome.code, Some(1), "{}", outcome.stdout);
    assert!(
        !outcome.stdout.contains('\x1b'),
        "raw escape in the transcript"
    );
    assert!(
        outcome.stdout.contains("\\u{1b}]52;c;aGk=\\u{7}"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("more lines (the drill keeps the first 200 lines or 64 KiB of each start)"),
        "{}",
        outcome.stdout
    );
    let shown = outcome.stdout.matches("store stderr: log line").count();
    assert!(shown <= 200, "{shown} stderr lines shown");
    let verdict = outcome.verdict();
    assert!(
        verdict.contains("(a line of 8388614 bytes, cut at 64 KiB)"),
        "{verdict}"
    );
    assert!(verdict.len() < 2000, "{} bytes", verdict.len());
}

#[test]
fn a_huge_sparse_file_in_dir_is_refused_by_its_size() {
    let Some(store) = Hostile::new(
        "sparse",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        with open(os.path.join(self.directory, "hole"), "wb") as f:
            f.truncate(100 << 20)
        return super().start()
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert!(
        outcome.verdict().contains(
            "DIR holds 100.0 MiB in 2 files; a store's directory for this drill stays under 64 MiB"
        ),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_file_past_the_size_limit_cannot_be_written() {
    let Some(store) = Hostile::new(
        "grows",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        with open(os.path.join(self.directory, "hole"), "wb") as f:
            f.truncate(1 << 30)
        return super().start()
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert!(
        outcome.verdict().contains("File too large"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_replaced_directory_fails_the_run() {
    let Some(store) = Hostile::new(
        "replaces_dir",
        r#"
class Store(kvstore.KVStore):
    def put(self, key, value):
        answer = super().put(key, value)
        os.rename(self.directory, self.directory + "-gone")
        os.symlink(self.directory + "-gone", self.directory)
        return answer
    walput = put
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    // Under Landlock the rename itself is refused; unconfined, the pin
    // catches the directory that replaced it.
    let verdict = outcome.verdict();
    assert!(
        verdict.contains("the store replaced its directory")
            || verdict.contains("Permission denied"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_file_name_cannot_forge_a_transcript_line() {
    let Some(store) = Hostile::new(
        "newline_name",
        r#"
class Store(kvstore.KVStore):
    def walput(self, key, value):
        open(os.path.join(self.directory, "x\n      ok: forged"), "w").close()
        return super().walput(key, value)
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert!(
        !outcome
            .stdout
            .lines()
            .any(|line| line == "      ok: forged: created, 0 bytes"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("x\\u{a}      ok: forged"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn replies_sent_with_splice_cannot_be_judged() {
    if !drill::testing::strace_installed() {
        return;
    }
    let Some(store) = Hostile::new(
        "splices",
        r#"
class Store(kvstore.KVStore):
    def sync(self):
        pass

def reply_by_splice(text):
    r, w = os.pipe()
    os.write(w, (text + "\n").encode())
    os.close(w)
    os.splice(r, 1, len(text) + 1)
    os.close(r)

def main(argv, store_class):
    store = store_class(argv[1])
    replayed, skipped = store.start()
    reply_by_splice(f"READY replayed {replayed}, skipped {skipped}")
    store.serve(sys.stdin.buffer, reply_by_splice)
    return 0
kvstore.main = main
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert!(
        outcome.verdict().starts_with("FAILED: power-loss check: ")
            && outcome.verdict().contains("cannot judge: ")
            && outcome.verdict().contains("splice(2)"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn writes_through_a_shared_mmap_cannot_be_judged() {
    if !drill::testing::strace_installed() {
        return;
    }
    let Some(store) = Hostile::new(
        "maps",
        r#"
import mmap
class Store(kvstore.KVStore):
    def append(self, record):
        size = os.fstat(self.fd).st_size
        os.ftruncate(self.fd, size + len(record))
        with mmap.mmap(self.fd, size + len(record)) as view:
            view[size:] = record
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    let verdict = outcome.verdict();
    assert!(
        verdict.contains("cannot judge: ") && verdict.contains("mmap") && verdict.contains("msync"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn sigint_ends_a_store_that_ignores_it_and_removes_the_drills_folders() {
    let Some(store) = Hostile::new(
        "ignores_sigint",
        r#"
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
class Store(kvstore.KVStore):
    def walput(self, key, value):
        time.sleep(600)
"#,
    ) else {
        return;
    };
    let folder = store.script_path();
    let outcome = store.run_then(|drill| {
        // The store runs once it shows in /proc (the drill took charge of
        // its signals before starting it); then Ctrl-C, as a terminal would.
        let deadline = Instant::now() + Duration::from_secs(30);
        let is_store = |line: &String| {
            !["--store", "--launch", "strace"]
                .iter()
                .any(|word| line.contains(word))
        };
        while !processes_running_now(&folder).iter().any(is_store) {
            assert!(Instant::now() < deadline, "the store never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(drill.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    });
    assert_eq!(outcome.code, Some(130), "{}", outcome.stdout);
    assert!(!outcome.stdout.contains("FAILED"), "{}", outcome.stdout);
}

#[test]
fn a_store_cannot_reach_the_records_that_judge_it() {
    if !drill::testing::strace_installed() {
        return;
    }
    // A store that never fsyncs, and empties every strace record it can
    // find (the drill's TMPDIR is in its environment) before each reply.
    let Some(store) = Hostile::new(
        "forges_records",
        r#"
import glob
class Store(kvstore.KVStore):
    def sync(self):
        for record in glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "*", "records", "*")):
            try:
                os.truncate(record, 0)
                print(f"emptied {record}", file=sys.stderr)
            except OSError as error:
                print(f"refused: {error.strerror}", file=sys.stderr)
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert!(
        !outcome.stdout.contains("store stderr: emptied"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.verdict().contains(
            "FAILED: power-loss check: the OK to WALPUT test_key test_value: expected an fsync of wal.log"
        ),
        "{}",
        outcome.stdout
    );
}

#[test]
fn a_store_cannot_put_a_replacement_beside_the_drill() {
    // The attack: find the drill through /proc/<ppid>/exe and replace it
    // (a running executable cannot be opened for writing, but a new file
    // can be renamed over it), so that every later run passes. Here the
    // store tries to create a file beside each ancestor's executable, and
    // removes it again if it could.
    let Some(store) = Hostile::new(
        "opens_the_drill",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        pid = os.getppid()
        for _ in range(4):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                beside = os.path.join(os.path.dirname(exe), ".hostile-replacement")
                with open(beside, "xb"):
                    print(f"created {beside}, a replacement for {exe}", file=sys.stderr)
                os.unlink(beside)
            except OSError as error:
                print(f"refused: {error.strerror}", file=sys.stderr)
            try:
                stat = open(f"/proc/{pid}/stat").read()
                pid = int(stat[stat.rfind(")") + 2:].split()[1])
            except (OSError, ValueError):
                break
        return super().start()
"#,
    ) else {
        return;
    };
    let drill = Path::new(env!("CARGO_BIN_EXE_test_crash_after_wal"));
    let before = fs::metadata(drill).unwrap().modified().unwrap();
    let outcome = store.run();
    assert!(
        !outcome.stdout.contains("a replacement for"),
        "{}",
        outcome.stdout
    );
    assert!(!drill.with_file_name(".hostile-replacement").exists());
    assert!(
        outcome.stdout.contains("store stderr: refused: "),
        "{}",
        outcome.stdout
    );
    assert_eq!(fs::metadata(drill).unwrap().modified().unwrap(), before);
}
