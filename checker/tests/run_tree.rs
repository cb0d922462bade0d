//! `checker run` stays in charge of what it runs: a drill past its timeout
//! takes everything it started in its process group with it, and a drill
//! replaced after it was built (as a store running unconfined could do
//! through `/proc`) is never trusted: the run stops and says so.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{checker, drill, lesson, workspace};

/// Starts a `sleep` with a marker argument in its own process group, then
/// outlives the timeout.
const ORPHAN: &str = r#"fn main() {
    let marker = std::env::var("ORPHAN_MARKER").unwrap();
    std::process::Command::new("sleep").arg(&marker).spawn().unwrap();
    println!("started");
    std::thread::sleep(std::time::Duration::from_secs(60));
}
"#;

/// Replaces its own executable, as a hostile store could.
const REPLACE: &str = r#"fn main() {
    let exe = std::env::current_exe().unwrap();
    let mut bytes = std::fs::read(&exe).unwrap();
    bytes.extend_from_slice(b"tampered");
    let copy = exe.with_extension("new");
    std::fs::write(&copy, bytes).unwrap();
    std::fs::rename(&copy, &exe).unwrap();
    println!("replaced");
}
"#;

fn fixture() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        workspace(&root, &["w02-l01", "w02-l02"]);
        for (order, (id, binary, main, pattern)) in [
            ("w02-l01", "drill_orphan", ORPHAN, "start"),
            ("w02-l02", "drill_replace", REPLACE, "replace"),
        ]
        .into_iter()
        .enumerate()
        {
            let body = format!("## Verify\n\n```bash\n./{binary}\n```\n");
            lesson(&root, id, "w02", order as u32 + 1, &[pattern], &body);
            drill(&root, id, binary, main);
        }
        root
    })
}

/// Processes whose command line holds `marker`, zombies left out.
fn alive_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
#[cfg(target_os = "linux")]
fn a_timed_out_drill_takes_its_process_group_with_it() {
    let root = fixture();
    let marker = format!(
        "{}.{}",
        1000 + std::process::id() % 1000,
        std::process::id()
    );
    let output = checker(root)
        .args(["run", "w02-l01", "--timeout", "2", "--format", "json"])
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env("ORPHAN_MARKER", &marker)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("timed out after 2 s; killed"), "{text}");
    // SIGKILL was sent to the group before the checker reported; allow the
    // kernel a bounded moment to finish the kill.
    let mut left = alive_with(&marker);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        left = alive_with(&marker);
    }
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn a_drill_replaced_after_it_was_built_stops_the_run() {
    let root = fixture();
    let output = checker(root)
        .args(["run", "w02-l02"])
        .env("CARGO_TARGET_DIR", root.join("target"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("drill_replace: the drill changed after it was built (a store it ran may have replaced it); refusing to run it"),
        "{stderr}"
    );
}
