//! `main` for every drill binary: arguments, the temporary directory, the
//! final line and the exit code.

use std::env;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::EnumValueParser;
use clap::{Arg, ArgAction, Command};

use lesson::receipt::{self, Receipt};

use crate::check::{Doing, Error, Result};
use crate::confine::{self, Confinement, Limits};
use crate::store::{SERVE_FLAG, Store};
use crate::tee::Tee;
use crate::traces::Recorder;
use crate::{Drill, Options, tree};

/// Every check passed.
pub const EXIT_PASSED: u8 = 0;
/// A check or an operation failed; the last line says which.
pub const EXIT_FAILED: u8 = 1;
/// Bad arguments.
pub const EXIT_USAGE: u8 = 2;

const KEEP: &str = "keep";
const STORE: &str = "store";
const BREAK: &str = "break";
const SERVE: &str = "serve";
const LIMIT_MEMORY: &str = "limit-memory";
const LIMIT_FILE_SIZE: &str = "limit-file-size";
const LIMIT_CPU: &str = "limit-cpu";
const LIMIT_OPEN_FILES: &str = "limit-open-files";
const LIMIT_PROCESSES: &str = "limit-processes";
const STORE_ROOT: &str = "store-root";

/// The folders a run made, removed on SIGINT or SIGTERM unless `--keep`.
static TEMPORARY: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// The whole `main` of a drill binary.
///
/// Parses the arguments (clap exits with [`EXIT_USAGE`] on bad ones), then
/// either serves the reference store (hidden `--serve DIR`: the drill binary
/// is its own default store under test) or runs the drill in a fresh
/// temporary directory and prints its verdict.
pub fn main<D: Drill>() -> ExitCode {
    // The launcher a store runs through: before clap, since everything
    // after its `--` is the store's own command line.
    let mut raw = env::args_os().skip(1);
    if raw.next().as_deref() == Some(std::ffi::OsStr::new(confine::LAUNCH_FLAG)) {
        return confine::launch_main(raw.collect(), serve_reference);
    }
    let args = command::<D>().get_matches();
    if let Some(dir) = args.get_one::<PathBuf>(SERVE) {
        return serve_reference(dir);
    }
    let exe = match env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!(
                "error: cannot find the drill's own executable (the reference store and the launcher): {err}"
            );
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let confinement = Confinement {
        launcher: exe.clone(),
        limits: limits(&args),
        store_root: args.get_one::<PathBuf>(STORE_ROOT).cloned(),
    };
    let store = match args.get_one::<String>(STORE) {
        Some(text) => match Store::from_command_line(text) {
            Ok(store) => store,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => Store::reference(exe),
    }
    .confined(confinement);
    if let Err(err) = take_charge_of_stores(args.get_flag(KEEP)) {
        eprintln!("error: cannot watch over the store's processes: {err}");
        return ExitCode::from(EXIT_FAILED);
    }
    let mut stdout = io::stdout().lock();
    let keep = args.get_flag(KEEP);
    let fault = args.get_one::<D::Fault>(BREAK).cloned();
    let mut transcript = Tee::new(&mut stdout);
    let verdict = run_in_temp_dir::<D>(keep, store, fault, &mut transcript);
    tree::end_all();
    let code = finish::<D>(verdict, &mut transcript);
    let recorded = transcript.recorded;
    print_receipt::<D>(&recorded, &mut stdout);
    code
}

/// The limits the flags set (each has a default).
fn limits(args: &clap::ArgMatches) -> Limits {
    let mut limits = Limits::default();
    for (name, field) in [
        (LIMIT_MEMORY, &mut limits.memory_mib),
        (LIMIT_FILE_SIZE, &mut limits.file_size_mib),
        (LIMIT_CPU, &mut limits.cpu_seconds),
        (LIMIT_OPEN_FILES, &mut limits.open_files),
        (LIMIT_PROCESSES, &mut limits.processes),
    ] {
        if let Some(value) = args.get_one::<u64>(name) {
            *field = *value;
        }
    }
    limits
}

/// The drill becomes a child subreaper (the orphans of its stores come back
/// to it), and on SIGINT or SIGTERM ends every store's tree and removes
/// its temporary folders before it exits.
fn take_charge_of_stores(keep: bool) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    tree::become_subreaper()?;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // Marked as stopping before any store is ended, so the run's
            // own thread, seeing its store die, prints no verdict.
            tree::stop_everything();
            if !keep {
                let folders = TEMPORARY.lock().map(|f| f.clone()).unwrap_or_default();
                for folder in folders {
                    let _ = std::fs::remove_dir_all(folder);
                }
            }
            eprintln!(
                "interrupted: every store process ended, the drill's temporary folders removed"
            );
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// Prints the receipt of the transcript, the last line of every run.
fn print_receipt<D: Drill>(transcript: &[u8], out: &mut dyn Write) {
    let receipt = Receipt::issue(D::LESSON, &receipt::fresh_run_id(), transcript);
    // The verdict is out (or on stderr); a receipt that cannot be written
    // leaves a transcript the checker will call cut short, which it is.
    let _ = writeln!(out, "{receipt}").and_then(|()| out.flush());
}

/// The reference store on `dir`, over this process's stdin and stdout.
fn serve_reference(dir: &Path) -> ExitCode {
    let served = store_protocol::serve(dir, io::stdin().lock(), io::stdout().lock(), io::stderr());
    match served {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("reference store on {}: {err}", dir.display());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn command<D: Drill>() -> Command {
    Command::new(D::NAME)
        .about(D::ABOUT)
        .after_help(
            "The store under test is the reference store (wal::KvStore) unless --store names \
             yours; it speaks the store protocol (docs/store-protocol.md): the drill runs \
             `CMD... DIR`, waits for READY, and sends PUT/DEL/GET/WALPUT/CRASH lines.\n\n\
             Examples:\n  \
             cargo run -p w09-l07\n  \
             cargo run -p w09-l07 -- --store \"python3 examples/stores/python/kvstore.py\"\n  \
             cargo run -p w09-l08 -- --store ./my_store --keep\n\n\
             Exit status: 0 when every check passed (the verdict line says so), \
             1 when one failed (the verdict starts with FAILED: and says what \
             was expected, what the store did, and the likely defect), 2 for bad arguments. The last line, after the verdict, is the run's receipt: \
             paste it with the rest.",
        )
        .disable_version_flag(true)
        .arg(
            Arg::new(STORE)
                .long(STORE)
                .value_name("CMD")
                .help("Test your own store: the command that runs it (split like a shell would; DIR is appended as its last argument)"),
        )
        .arg(Arg::new(KEEP).long(KEEP).action(ArgAction::SetTrue).help(
            "Keep the store's directories (one per step) and print where they are",
        ))
        .arg(
            Arg::new(BREAK)
                .long(BREAK)
                .value_name("DAMAGE")
                .value_parser(EnumValueParser::<D::Fault>::new())
                .help("Damage the store's files on purpose during the run, to watch a check fail and read its explanation"),
        )
        .args(limit_args())
        .arg(
            Arg::new(STORE_ROOT)
                .long(STORE_ROOT)
                .value_name("FOLDER")
                .value_parser(clap::value_parser!(PathBuf))
                .requires(STORE)
                .help("The store's own files lie beneath FOLDER: files its command names elsewhere are not made readable to it (checker run --class passes the student's folder)"),
        )
        .arg(
            Arg::new(SERVE)
                .long(SERVE_FLAG.trim_start_matches("--"))
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .conflicts_with_all([KEEP, BREAK, STORE])
                .hide(true)
                .help("Internal: serve the reference store on DIR over stdin/stdout"),
        )
}

/// The flags that change a store's resource limits, with their defaults.
fn limit_args() -> Vec<Arg> {
    let defaults = Limits::default();
    [
        (
            LIMIT_MEMORY,
            "MIB",
            defaults.memory_mib,
            "The store's memory (data segment, RLIMIT_DATA), in MiB",
        ),
        (
            LIMIT_FILE_SIZE,
            "MIB",
            defaults.file_size_mib,
            "The largest file the store may write (RLIMIT_FSIZE), in MiB",
        ),
        (
            LIMIT_CPU,
            "SECONDS",
            defaults.cpu_seconds,
            "CPU time of each store process (RLIMIT_CPU)",
        ),
        (
            LIMIT_OPEN_FILES,
            "N",
            defaults.open_files,
            "Open files of each store process (RLIMIT_NOFILE)",
        ),
        (
            LIMIT_PROCESSES,
            "N",
            defaults.processes,
            "Processes the store may start (RLIMIT_NPROC, above those its user runs already)",
        ),
    ]
    .into_iter()
    .map(|(name, value_name, default, help)| {
        Arg::new(name)
            .long(name)
            .value_name(value_name)
            .value_parser(clap::value_parser!(u64).range(1..))
            .help(format!("{help} [default: {default}]"))
    })
    .collect()
}

/// Runs the drill in a new temporary directory, deleted afterwards unless
/// `keep`, in which case the WAL's path is printed.
fn run_in_temp_dir<D: Drill>(
    keep: bool,
    store: Store,
    fault: Option<D::Fault>,
    out: &mut dyn Write,
) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-", D::NAME))
        .tempdir()
        .doing("create a temporary directory")?;
    // The records of the store's system calls are the drill's own, kept
    // apart from every store directory.
    let traces = tempfile::Builder::new()
        .prefix(&format!("{}-strace-", D::NAME))
        .tempdir()
        .doing("create a temporary directory for the strace records")?;
    if let Ok(mut folders) = TEMPORARY.lock() {
        folders.extend([dir.path().to_path_buf(), traces.path().to_path_buf()]);
    }
    let recorder = Recorder::new(traces.path().join("records"));
    let options = Options {
        dir: dir.path().to_path_buf(),
        store: store.recorded(recorder),
        fault,
        keep,
    };
    let verdict = D::run(&options, out).map_err(|err| blame_the_break(err, options.fault.as_ref()));
    if keep {
        print_kept::<D>(&dir.keep(), &traces.keep(), &options.store, out)?;
    } else {
        let _ = traces.close();
        let path = dir.path().to_path_buf();
        let cleanup = dir
            .close()
            .doing(format!("delete the temporary directory {}", path.display()));
        if verdict.is_err() {
            writeln!(
                out,
                "(run again with --keep to keep the store's files and inspect them)"
            )
            .map_err(Error::Output)?;
        }
        // A failed check is the news; a failed cleanup only when all passed.
        return verdict.and(cleanup);
    }
    verdict
}

/// A check that failed under `--break NAME` failed because of the damage the
/// drill did on purpose, not because of a defect of the store: say so
/// instead of guessing a defect.
fn blame_the_break<F: clap::ValueEnum>(err: Error, fault: Option<&F>) -> Error {
    let Some(value) = fault.and_then(|fault| fault.to_possible_value()) else {
        return err;
    };
    match err {
        Error::Check {
            what,
            expected,
            found,
            ..
        } => Error::Check {
            what,
            expected,
            found,
            why: Some(format!(
                "none: this is the damage --break {} did on purpose ({}); a store that skips a damaged record rightly loses it, so this check fails by design",
                value.get_name(),
                value
                    .get_help()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )),
        },
        other => other,
    }
}

/// The case a kept directory holds, from the `NAME.case` file a drill wrote
/// beside it ([`Kept`]): its first line, bounded and escaped.
fn kept_case(dir: &Path, name: &str) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(dir.join(format!("{name}.case"))).ok()?;
    let mut bytes = Vec::new();
    file.take(512).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| crate::escape::shown(line).into_owned())
}

/// The `--keep` legend: each kept directory, what it holds, and for the
/// reference store the `wal` command that shows its log.
fn print_kept<D: Drill>(
    dir: &Path,
    traces: &Path,
    store: &Store,
    out: &mut dyn Write,
) -> Result<()> {
    let mut lines = vec![format!(
        "kept: {} (the store's directory for each state the drill tested):",
        dir.display()
    )];
    let width = D::KEPT.iter().map(|kept| kept.dir.len()).max().unwrap_or(0) + 1;
    for kept in D::KEPT.iter().filter(|kept| dir.join(kept.dir).is_dir()) {
        let name = format!("{}/", kept.dir);
        let case = kept_case(dir, kept.dir)
            .map(|case| format!(": {case}"))
            .unwrap_or_default();
        lines.push(format!("  {name:<width$}  {}{case}", kept.holds));
        if store.is_reference() {
            let log = dir.join(kept.dir).join(store_protocol::LOG_FILE);
            lines.push(format!(
                "  {:<width$}  see it: cargo run -p wal-cli -- {} {}",
                "",
                kept.show,
                log.display()
            ));
        }
    }
    if !store.is_reference() {
        lines.push(
            "  (the files in them are your store's own: the drill never parses them, it only compared their bytes)"
                .to_string(),
        );
    }
    let records = traces.join("records");
    if records.is_dir() {
        lines.push(format!(
            "kept: {} (the store's file system calls, one file per store process: the power-loss check's input)",
            records.display()
        ));
    } else {
        let _ = std::fs::remove_dir(traces);
    }
    for line in lines {
        writeln!(out, "{line}").map_err(Error::Output)?;
    }
    Ok(())
}

/// Prints the last line, the drill's passed line or `FAILED: ...`, and picks
/// the exit code.
fn finish<D: Drill>(verdict: Result<()>, out: &mut dyn Write) -> ExitCode {
    // Interrupted: the signal's thread ends the process; a store it killed
    // is no verdict on the store.
    while tree::stopping() {
        std::thread::park();
    }
    let (line, code) = match verdict {
        Ok(()) => (D::PASSED.to_string(), EXIT_PASSED),
        Err(err) => (format!("FAILED: {err}"), EXIT_FAILED),
    };
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        eprintln!("{line}");
    }
    ExitCode::from(code)
}

/// For tests: the parsed arguments of a drill's command line.
#[cfg(test)]
fn parse<D: Drill>(args: &[&str]) -> std::result::Result<clap::ArgMatches, clap::Error> {
    command::<D>().try_get_matches_from(std::iter::once(D::NAME).chain(args.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    #[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
    enum FakeFault {
        CorruptRecord,
    }

    impl Drill for Fake {
        type Fault = FakeFault;
        const NAME: &'static str = "fake_drill";
        const ABOUT: &'static str = "A drill for testing the harness.";
        const PASSED: &'static str = "Fake drill passed";
        const KEPT: &'static [crate::Kept] = &[crate::Kept {
            dir: "store",
            holds: "the store after the run",
            show: "dump",
        }];
        const LESSON: &'static str = "w00-l00";

        fn run(options: &Options<FakeFault>, out: &mut dyn Write) -> Result<()> {
            std::fs::create_dir(options.dir.join("store")).doing("create")?;
            std::fs::write(options.dir.join("store/wal.log"), b"log").doing("write")?;
            writeln!(out, "[1/1] wrote the log").map_err(Error::Output)?;
            crate::expect("fault injected", options.fault.is_none(), "none", "one")
        }
    }

    fn output(result: Result<()>) -> (String, ExitCode) {
        let mut out = Vec::new();
        let code = finish::<Fake>(result, &mut out);
        (String::from_utf8(out).unwrap(), code)
    }

    fn reference() -> Store {
        Store::reference(PathBuf::from("/nonexistent"))
    }

    #[test]
    fn passed_line_only_when_the_run_returned_ok() {
        let (text, code) = output(Ok(()));
        assert_eq!(text, "Fake drill passed\n");
        assert_eq!(code, ExitCode::from(EXIT_PASSED));
        let (text, code) = output(crate::expect_eq("records", 5, 4));
        assert_eq!(text, "FAILED: records: expected 5, found 4\n");
        assert_eq!(code, ExitCode::from(EXIT_FAILED));
    }

    #[test]
    fn the_receipt_covers_the_transcript() {
        let mut out = Vec::new();
        let mut transcript = Tee::new(&mut out);
        run_in_temp_dir::<Fake>(false, reference(), None, &mut transcript).unwrap();
        finish::<Fake>(Ok(()), &mut transcript);
        let recorded = transcript.recorded;
        print_receipt::<Fake>(&recorded, &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["[1/1] wrote the log", "Fake drill passed"]);
        let receipt = Receipt::parse(lines[2]).unwrap().unwrap();
        assert_eq!((receipt.lesson.as_str(), receipt.lines), ("w00-l00", 2));
        let verified = receipt::verify("w00-l00", &text);
        assert_eq!((verified.transcripts.len(), verified.problem), (1, None));
    }

    #[test]
    fn temp_dir_is_deleted_unless_kept() {
        let mut out = Vec::new();
        run_in_temp_dir::<Fake>(false, reference(), None, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[1/1] wrote the log\n");

        let mut out = Vec::new();
        run_in_temp_dir::<Fake>(true, reference(), None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let kept = text
            .lines()
            .find_map(|line| line.strip_prefix("kept: "))
            .and_then(|rest| rest.split(" (").next())
            .expect("a kept line");
        assert_eq!(
            std::fs::read(Path::new(kept).join("store/wal.log")).unwrap(),
            b"log"
        );
        let legend = format!(
            "  store/  the store after the run\n          see it: cargo run -p wal-cli -- dump {kept}/store/wal.log\n"
        );
        assert!(text.contains(&legend), "{text}");
        std::fs::remove_dir_all(kept).unwrap();
    }

    #[test]
    fn failed_run_without_keep_suggests_keep() {
        let mut out = Vec::new();
        let result =
            run_in_temp_dir::<Fake>(false, reference(), Some(FakeFault::CorruptRecord), &mut out);
        assert!(result.is_err());
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("run again with --keep")
        );
    }

    #[test]
    fn arguments() {
        let args = parse::<Fake>(&["--keep"]).unwrap();
        assert!(args.get_flag(KEEP));
        let args = parse::<Fake>(&["--break", "corrupt-record"]).unwrap();
        assert_eq!(
            args.get_one::<FakeFault>(BREAK),
            Some(&FakeFault::CorruptRecord)
        );
        let args = parse::<Fake>(&["--store", "python3 s.py"]).unwrap();
        assert_eq!(
            args.get_one::<String>(STORE).map(String::as_str),
            Some("python3 s.py")
        );
        let args = parse::<Fake>(&["--serve", "/tmp/x"]).unwrap();
        assert_eq!(
            args.get_one::<PathBuf>(SERVE),
            Some(&PathBuf::from("/tmp/x"))
        );
        for bad in [
            &["--break", "no-such-fault"][..],
            &["--serve", "/tmp/x", "--keep"],
            &["--serve", "/tmp/x", "--store", "s"],
            &["extra"],
        ] {
            let err = parse::<Fake>(bad).unwrap_err();
            assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{bad:?}");
        }
        let help = command::<Fake>().render_help().to_string();
        assert!(
            help.contains("--keep")
                && help.contains("--store")
                && help.contains("--break")
                && !help.contains("--serve"),
            "{help}"
        );
    }
}
