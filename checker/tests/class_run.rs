//! `checker run --class`: a class folder of real student repositories, each
//! with its `store.toml` (or without), built and drilled by the real drills
//! into one gradebook; run again after one student changed their store, only
//! that student is built and run again.

mod common;

use std::fs;
use std::path::Path;

use common::real::{build, python, root};
use common::{checker, stdout, write};

/// Processes whose working folder is inside `folder`.
fn running_in(folder: &Path) -> Vec<String> {
    let folder = fs::canonicalize(folder).unwrap();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&folder))
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn a_class_is_built_drilled_and_graded_and_a_rerun_redoes_only_what_changed() {
    let Some(python) = python() else { return };
    if std::process::Command::new("cc")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var_os("CI").is_none(), "CI needs a C compiler");
        return;
    }
    build();
    let class = tempfile::tempdir().unwrap();
    let class = class.path();
    let c_source = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/student_store.c"),
    )
    .unwrap();
    let model = fs::read_to_string(root().join("examples/stores/python/kvstore.py")).unwrap();
    // Alice: a correct C store, built by her manifest.
    write(&class.join("alice/kvstore.c"), &c_source);
    write(
        &class.join("alice/store.toml"),
        "build = \"cc -O2 -o kvstore kvstore.c\"\nrun = \"./kvstore\"\n",
    );
    // "c d" and "c_d" hand in Alice's store: the same store, flagged; and
    // their transcripts stay apart.
    for copier in ["c d", "c_d"] {
        write(&class.join(copier).join("kvstore.c"), &c_source);
        write(
            &class.join(copier).join("store.toml"),
            "build = \"cc -O2 -o kvstore kvstore.c\"\nrun = \"./kvstore\"\n",
        );
    }
    // Hugo's build writes outside his folder: confined, it cannot.
    let canary = class.join("written-by-hugo");
    write(
        &class.join("hugo/store.toml"),
        format!(
            "build = \"echo x > '{}'\"\nrun = \"./kvstore\"\n",
            canary.display()
        ),
    );
    // Gus hands in the course's model unchanged.
    write(&class.join("gus/store.py"), &model);
    write(
        &class.join("gus/store.toml"),
        format!("run = \"{python} store.py\"\n"),
    );
    // Bob: a correct Python store of his own.
    write(
        &class.join("bob/bob.py"),
        model.replacen("READY replayed", "READY (bob) replayed", 1),
    );
    write(
        &class.join("bob/store.toml"),
        format!("run = \"{python} bob.py\"\n"),
    );
    // Carol: a Python store that replays without applying.
    write(
        &class.join("carol/carol.py"),
        model.replacen(
            "            self.apply(op, key, value)\n            self.next_lsn = lsn + 1",
            "            self.next_lsn = lsn + 1",
            1,
        ),
    );
    write(
        &class.join("carol/store.toml"),
        format!("run = \"{python} carol.py\"\n"),
    );
    // Dave: a build that fails.
    write(
        &class.join("dave/store.toml"),
        "build = \"cc -o kvstore missing.c\"\nrun = \"./kvstore\"\n",
    );
    // Erin: no manifest.
    write(&class.join("erin/README.md"), "my store is somewhere\n");
    // Frank: a store that never gets ready.
    write(
        &class.join("frank/hang.py"),
        "import time\ntime.sleep(600)\n",
    );
    write(
        &class.join("frank/store.toml"),
        format!("run = \"{python} hang.py\"\n"),
    );

    let results = tempfile::tempdir().unwrap();
    let run = || {
        checker(&root())
            .env(
                "CARGO_TARGET_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-drills"),
            )
            .args(["run", "--format", "csv", "--jobs", "2", "--class"])
            .arg(class)
            .arg("--results")
            .arg(results.path())
            .timeout(std::time::Duration::from_secs(600))
            .output()
            .unwrap()
    };
    let output = run();
    let csv = stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{csv}{stderr}");
    let row = |csv: &str, student: &str, lesson: &str| -> String {
        csv.lines()
            .find(|line| line.starts_with(&format!("{student},{lesson},")))
            .unwrap_or_else(|| panic!("no row {student} {lesson}:\n{csv}"))
            .to_owned()
    };
    for lesson in ["w09-l07", "w09-l08"] {
        assert!(
            row(&csv, "alice", lesson).starts_with(&format!("alice,{lesson},pass,75,")),
            "{csv}{stderr}"
        );
        assert!(
            row(&csv, "bob", lesson).starts_with(&format!("bob,{lesson},pass,75,")),
            "{csv}{stderr}"
        );
        assert!(
            row(&csv, "dave", lesson).contains(",error,0,the store's build exited with code 1"),
            "{csv}"
        );
        let erin = row(&csv, "erin", lesson);
        assert!(
            erin.contains(",error,0,") && erin.contains("no store.toml in the student's folder"),
            "{csv}"
        );
        assert!(row(&csv, "frank", lesson).contains(",fail,0,"), "{csv}");
        assert!(
            row(&csv, "frank", lesson).contains("expected a READY line"),
            "{csv}"
        );
    }
    for lesson in ["w09-l07", "w09-l08"] {
        let gus = row(&csv, "gus", lesson);
        assert!(gus.starts_with(&format!("gus,{lesson},fail,0,")), "{gus}");
        assert!(
            gus.contains(
                "tested examples/stores/python/kvstore.py, the course's model store, not your own"
            ),
            "{gus}"
        );
        // alice, "c d" and c_d ran the same store.
        assert!(row(&csv, "alice", lesson).contains(",c d; c_d,"), "{csv}");
        assert!(row(&csv, "c_d", lesson).contains(",alice; c d,"), "{csv}");
    }
    assert!(results.path().join("c%20d/w09-l07.txt").is_file());
    let hugo = row(&csv, "hugo", "w09-l07");
    assert!(
        hugo.contains(",error,0,") && hugo.contains("the store's build exited with code"),
        "{hugo}"
    );
    assert!(
        !canary.exists(),
        "the build wrote outside the student's folder"
    );
    assert!(results.path().join("c_d/w09-l07.txt").is_file());
    let carol = row(&csv, "carol", "w09-l07");
    assert!(
        carol.contains("exited with code 1: FAILED: GET test_key after the restart: expected VALUE test_value, found NOT_FOUND"),
        "{carol}"
    );
    // Each student's transcripts are kept for them.
    let kept = fs::read_to_string(results.path().join("alice/w09-l07.txt")).unwrap();
    assert!(kept.contains("Crash drill 1 passed"), "{kept}");
    assert!(
        running_in(class).is_empty(),
        "left running: {:?}",
        running_in(class)
    );

    // Erin pushes a manifest: only she is built and run again.
    write(
        &class.join("erin/store.toml"),
        "run = \"./not-built-yet\"\n",
    );
    let output = run();
    let again = stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    for student in ["alice", "bob", "carol", "dave", "frank", "gus", "hugo"] {
        assert!(
            stderr.contains(&format!("checker: {student}: "))
                && stderr
                    .lines()
                    .any(|l| l.starts_with(&format!("checker: {student}: "))
                        && l.ends_with("(unchanged since the last run: results kept)")),
            "{student}: {stderr}"
        );
        assert_eq!(
            row(&again, student, "w09-l07"),
            row(&csv, student, "w09-l07")
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("checker: erin: ") && l.contains("built and run in")),
        "{stderr}"
    );
    assert!(
        row(&again, "erin", "w09-l07").contains(",fail,0,"),
        "{again}"
    );
}
