//! What a confined store cannot reach besides files (issue 21's class run
//! over issue 20's confinement): the drill's environment, the network, and
//! under `--store-root` the files beside its own folder.

use std::fs;
use std::net::TcpListener;

use crate::hostile::Hostile;

#[test]
fn the_drills_environment_does_not_reach_the_store() {
    let Some(store) = Hostile::new(
        "reads_environment",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        for name in sorted(os.environ):
            print(f"env: {name}={os.environ[name]}", file=sys.stderr)
        return super().start()
"#,
    ) else {
        return;
    };
    let outcome = store.run_with(&[], &[("GH_TOKEN", "ghp_instructor_secret")], |_| {});
    // The store ran and said what it saw (PATH is kept to find programs).
    assert!(
        outcome.stdout.contains("store stderr: env: PATH="),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("ghp_instructor_secret") && !outcome.stdout.contains("GH_TOKEN"),
        "{}",
        outcome.stdout
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_store_cannot_connect_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let Some(store) = Hostile::new(
        "phones_home",
        &format!(
            r#"
import socket
class Store(kvstore.KVStore):
    def start(self):
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=5).sendall(b"stolen")
            print("connected", file=sys.stderr)
        except OSError as error:
            print(f"refused: {{error.strerror}}", file=sys.stderr)
        return super().start()
"#
        ),
    ) else {
        return;
    };
    listener.set_nonblocking(true).unwrap();
    let outcome = store.run();
    if !outcome.stdout.contains("confinement: Landlock (") {
        return; // No Landlock network rules on this kernel: nothing to check.
    }
    assert!(
        outcome
            .stdout
            .contains("store stderr: refused: Permission denied"),
        "{}",
        outcome.stdout
    );
    assert!(
        listener.accept().is_err(),
        "a connection reached the listener"
    );
}

#[test]
fn under_a_store_root_a_classmates_files_stay_closed() {
    let Some(store) = Hostile::new(
        "reads_a_classmate",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        for path in [os.path.join(here, "kvstore.py"),
                     os.path.join(here, "..", "classmate", "store.py"),
                     os.path.join(CANARY, "secret")]:
            try:
                open(path).read()
                print(f"read {os.path.basename(path)}", file=sys.stderr)
            except OSError as error:
                print(f"refused {os.path.basename(path)}: {error.strerror}", file=sys.stderr)
        return super().start()
"#,
    ) else {
        return;
    };
    let classmate = store.script_path().join("../classmate");
    fs::create_dir(&classmate).unwrap();
    fs::write(classmate.join("store.py"), "# a classmate's store\n").unwrap();
    let root = store.script_path().display().to_string();
    let outcome = store.run_with(&["--store-root", &root], &[], |_| {});
    if !outcome.stdout.contains("confinement: Landlock") {
        return;
    }
    assert!(
        outcome.stdout.contains("store stderr: read kvstore.py"),
        "{}",
        outcome.stdout
    );
    for refused in ["store.py", "secret"] {
        assert!(
            outcome.stdout.contains(&format!(
                "store stderr: refused {refused}: Permission denied"
            )),
            "{refused}\n{}",
            outcome.stdout
        );
    }
    // Without the root the folder above the script opens, the classmate's
    // store with it: what a class run must not allow.
    let open = store.run_with(&[], &[], |_| {});
    assert!(
        open.stdout.contains("store stderr: read store.py"),
        "{}",
        open.stdout
    );
}

/// A store that works inside DIR by relative names after a `chdir` (the
/// power-loss record shows plain `rename("a", "b")`) is judged in DIR, not
/// where it started.
#[test]
fn a_store_that_changes_into_its_directory_is_judged_there() {
    let Some(store) = Hostile::new(
        "changes_directory",
        r#"
class Store(kvstore.KVStore):
    def start(self):
        os.chdir(self.directory)
        fd = os.open("marker.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x")
        os.fsync(fd)
        os.close(fd)
        os.rename("marker.tmp", "marker")
        os.unlink("marker")
        here = os.open(".", os.O_RDONLY)
        os.fsync(here)
        os.close(here)
        return super().start()
"#,
    ) else {
        return;
    };
    let outcome = store.run();
    assert!(
        !outcome.stdout.contains("outside its directory"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("Crash drill 1 passed"),
        "{}",
        outcome.stdout
    );
}
