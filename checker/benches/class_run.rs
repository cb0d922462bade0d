//! `checker run --class` on a generated class, with 1 and 2 jobs: the wall
//! time of each (with N jobs it should stay within 1.3x of one job's time / N)
//! and the checker's peak memory (it should not grow with the class).
//!
//! ```sh
//! cargo bench -p checker --bench class_run                 # 40 students
//! cargo bench -p checker --bench class_run -- 12 24        # the class sizes to run
//! ```
//!
//! The class mixes what a real one holds: correct C stores (built by their
//! manifest), correct and broken Python stores, Rust starters left unfinished,
//! builds that fail, folders without a manifest, a store that hangs and one
//! that floods its output. It prints a Markdown table for BENCHMARKS.md.
//!
//! Besides the wall time it prints the CPU time of the whole run (the
//! checker, its drills and every store and build, from `getrusage` of this
//! process's waited-for children) and the cores that kept busy on average:
//! where one job already keeps every core busy (w09-l08 restarts the store on
//! a few copies at once), more jobs cannot divide its time, and the lower
//! bound for N jobs is the CPU time over the cores rather than one job's
//! time over N.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A class of `size` students in `class`, in the mix above.
fn generate(class: &Path, size: usize, python: &str) {
    let c_store =
        fs::read_to_string(root().join("checker/tests/fixtures/student_store.c")).unwrap();
    let model = fs::read_to_string(root().join("examples/stores/python/kvstore.py")).unwrap();
    let starter = root().join("examples/stores/rust-starter");
    for index in 0..size {
        let student = class.join(format!("student-{index:03}"));
        match index % 20 {
            // 8 in 20: a correct C store.
            0..=7 => {
                write(
                    &student.join("kvstore.c"),
                    &format!("/* student {index} */\n{c_store}"),
                );
                write(
                    &student.join("store.toml"),
                    "build = \"cc -O2 -o kvstore kvstore.c\"\nrun = \"./kvstore\"\n",
                );
            }
            // 5 in 20: a correct Python store.
            8..=12 => {
                write(
                    &student.join("store.py"),
                    &format!("# student {index}\n{model}"),
                );
                write(
                    &student.join("store.toml"),
                    &format!("run = \"{python} store.py\"\n"),
                );
            }
            // 2 in 20: a Python store that forgets to apply what it replays.
            13 | 14 => {
                let broken = model.replacen(
                    "            self.apply(op, key, value)\n            self.next_lsn = lsn + 1",
                    "            self.next_lsn = lsn + 1",
                    1,
                );
                write(&student.join("store.py"), &broken);
                write(
                    &student.join("store.toml"),
                    &format!("run = \"{python} store.py\"\n"),
                );
            }
            // The Rust starter, unfinished (its todo!s).
            15 => {
                for file in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/record.rs"] {
                    write(
                        &student.join(file),
                        &fs::read_to_string(starter.join(file)).unwrap(),
                    );
                }
                write(
                    &student.join("store.toml"),
                    "build = \"cargo build --release --quiet\"\nrun = \"./target/release/kvstore-starter\"\n",
                );
            }
            16 => write(
                &student.join("store.toml"),
                "build = \"cc -o kvstore missing.c\"\nrun = \"./kvstore\"\n",
            ),
            17 => write(&student.join("README.md"), "no manifest\n"),
            18 => {
                write(&student.join("hang.py"), "import time\ntime.sleep(600)\n");
                write(
                    &student.join("store.toml"),
                    &format!("run = \"{python} hang.py\"\n"),
                );
            }
            _ => {
                write(
                    &student.join("flood.py"),
                    "import sys\nline = 'x' * 1023 + '\\n'\nwhile True:\n    sys.stderr.write(line)\n    sys.stdout.write(line)\n",
                );
                write(
                    &student.join("store.toml"),
                    &format!("run = \"{python} flood.py\"\n"),
                );
            }
        }
    }
}

/// The CPU time (user and system) of every child of this process waited
/// for so far, and of their waited-for descendants.
fn children_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let seconds = |time: nix::sys::time::TimeVal| {
        Duration::from_secs(time.tv_sec() as u64) + Duration::from_micros(time.tv_usec() as u64)
    };
    seconds(usage.user_time()) + seconds(usage.system_time())
}

/// What one run of the class cost.
struct Cost {
    wall: Duration,
    cpu: Duration,
    peak_kib: u64,
}

/// Run the class with `jobs`: wall time, CPU time and the checker's peak
/// resident memory (its VmHWM, read until it exits).
fn run(checker: &Path, class: &Path, jobs: usize, target: &Path) -> Cost {
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = Command::new(checker)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", target)
        .args([
            "run",
            "--format",
            "csv",
            "--fresh",
            "--jobs",
            &jobs.to_string(),
            "--class",
        ])
        .arg(class)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(text) = fs::read_to_string(&status)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            peak_kib = peak_kib.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Cost {
        wall: started.elapsed(),
        cpu: children_cpu() - cpu_before,
        peak_kib,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![40] } else { sizes };
    let python = String::from_utf8(
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let checker = Path::new(env!("CARGO_BIN_EXE_checker"));
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("class-bench");
    // Build the drills once, outside the timings.
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "w09-l07", "-p", "w09-l08"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "| students | jobs | wall time | 1 job's time / jobs | ratio | CPU time | cores busy (of {cores}) | checker peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for size in sizes {
        let class = tempfile::tempdir().unwrap();
        generate(class.path(), size, &python);
        let mut one = None;
        for jobs in [1, 2] {
            let cost = run(checker, class.path(), jobs, &target);
            let wall = cost.wall.as_secs_f64();
            let one_job: f64 = *one.get_or_insert(wall);
            let ideal = one_job / jobs as f64;
            println!(
                "| {size} | {jobs} | {wall:.1} s | {ideal:.1} s | {:.2} | {:.1} s | {:.2} | {:.1} MiB |",
                wall / ideal,
                cost.cpu.as_secs_f64(),
                cost.cpu.as_secs_f64() / wall,
                cost.peak_kib as f64 / 1024.0
            );
        }
    }
}
