//! `checker run`: build the selected drills, run them in parallel, grade their
//! output.
//!
//! A drill passes when it exits with code 0 *and* every pattern matches a line
//! of its output (not an echo of the lesson) *and* its receipt matches its
//! transcript. The verdict table that `grade` reads pastes with is not used
//! here: the real exit status is known, and it is the better witness.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::Duration;

use cargo_metadata::PackageId;
use lesson::{OutputError, ProofReport, normalize};

use crate::catalog::{self, DOCUMENT, Entry};
use crate::drill::{self, Ending};
use crate::error::Error;
use crate::outcome::{Event, Finished, Summary};
use crate::report::{self, Reporter};
use crate::store_build;

/// How to run the drills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options<'a> {
    /// Kill a drill still running after this long.
    pub timeout: Duration,
    /// Passed to every drill as `--store CMD`.
    pub store: Option<&'a str>,
    /// Passed as `--store-root FOLDER`: the store's own files lie there.
    pub store_root: Option<&'a Path>,
    /// A manifest's `build`, run in the current folder once the drills are
    /// built, confined through one of them, before any drill runs.
    pub build: Option<(&'a str, Duration)>,
    /// Where each drill's output is written, as `<lesson>.txt`.
    pub transcripts: Option<&'a Path>,
}

impl Options<'_> {
    /// The drill's arguments.
    fn arguments(&self) -> Vec<&str> {
        let mut arguments = Vec::new();
        if let Some(store) = self.store {
            arguments.extend(["--store", store]);
            if let Some(root) = self.store_root.and_then(Path::to_str) {
                arguments.extend(["--store-root", root]);
            }
        }
        arguments
    }
}

/// Run the drills of the lessons named by `ids` (all lessons with a drill when
/// empty) and report to `reporter`.
pub fn run(
    lessons_dir: &Path,
    ids: &[String],
    options: &Options<'_>,
    reporter: &mut dyn Reporter,
) -> Result<Summary, Error> {
    let entries = select(catalog::load(lessons_dir)?, ids, lessons_dir)?;
    let drills: Vec<_> = entries.iter().filter_map(|e| e.drill.as_ref()).collect();
    let executables = if drills.is_empty() {
        HashMap::new()
    } else {
        drill::build(&drills)?
    };
    // What was built, so that a drill replaced during the run (a store can
    // reach it through /proc when it runs unconfined) is never run.
    let built: HashMap<&PackageId, String> = executables
        .iter()
        .filter_map(|(id, path)| Some((id, drill::file_sha256(path).ok()?)))
        .collect();
    if let Some((command, timeout)) = options.build {
        build_here(command, timeout, executables.values().next())?;
    }
    let changed: Mutex<Option<PathBuf>> = Mutex::new(None);
    let workers = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(entries.len())
        .max(1);
    let queue = Mutex::new(entries.iter().enumerate());
    let (events, received) = mpsc::channel();
    let summary = thread::scope(|scope| {
        for _ in 0..workers {
            let events = events.clone();
            let (queue, executables, built, changed) = (&queue, &executables, &built, &changed);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((index, entry)) = next else { break };
                    let check = || {
                        let path = replaced(entry, executables, built)?;
                        changed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(path);
                        Some(())
                    };
                    // Before it runs, and after: a drill replaced while it
                    // ran (by the store it tested) stops the run too.
                    if check().is_some() {
                        break;
                    }
                    run_one(index, entry, executables, options, &events);
                    if check().is_some() {
                        break;
                    }
                }
            });
        }
        drop(events);
        report::drive(received, reporter).map_err(Error::Output)
    });
    match changed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(path) => Err(Error::DrillChanged(path)),
        None => summary,
    }
}

/// The drill of `entry` when its executable is no longer what was built.
pub fn replaced(
    entry: &Entry,
    executables: &HashMap<PackageId, PathBuf>,
    built: &HashMap<&PackageId, String>,
) -> Option<PathBuf> {
    let id = &entry.drill.as_ref()?.package_id;
    let path = executables.get(id)?;
    let now = drill::file_sha256(path).ok();
    (now.as_ref() != built.get(id)).then(|| path.clone())
}

/// The entries to run, in catalog order. Every id must name a lesson whose
/// drill is exactly one binary; without ids, every lesson with a drill.
pub fn select(
    entries: Vec<Entry>,
    ids: &[String],
    lessons_dir: &Path,
) -> Result<Vec<Entry>, Error> {
    for id in ids {
        let Some(entry) = entries.iter().find(|e| &e.lesson.frontmatter.id == id) else {
            return Err(catalog::unknown_lesson(
                id,
                lessons_dir,
                lessons_dir.join(id).join(DOCUMENT),
            ));
        };
        if entry.drill.is_none() {
            return Err(Error::NotRunnable {
                id: id.clone(),
                reason: format!(
                    "{} holds no Cargo.toml, so it has no drill",
                    entry.dir.display()
                ),
            });
        }
    }
    let selected: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.drill.is_some())
        .filter(|e| ids.is_empty() || ids.contains(&e.lesson.frontmatter.id))
        .collect();
    for entry in &selected {
        if let Some(Err(reason)) = entry.drill.as_ref().map(|d| d.binary()) {
            return Err(Error::NotRunnable {
                id: entry.lesson.frontmatter.id.clone(),
                reason,
            });
        }
    }
    Ok(selected)
}

fn run_one(
    index: usize,
    entry: &Entry,
    executables: &HashMap<PackageId, PathBuf>,
    options: &Options<'_>,
    events: &mpsc::Sender<Event>,
) {
    // A send fails only when the reporter stopped early (it could not write);
    // that error is already on its way to the user.
    let send = |event| {
        let _ = events.send(event);
    };
    let Some(drill) = &entry.drill else { return };
    let source = drill.binary().unwrap_or_default().to_owned();
    let Some(executable) = executables.get(&drill.package_id) else {
        let message = "the drill did not build (see cargo's messages above)".to_owned();
        send(finished(Finished::error(
            index,
            &entry.lesson,
            source,
            message,
        )));
        return;
    };
    send(Event::Started {
        lesson: entry.lesson.frontmatter.id.clone(),
        source: source.clone(),
    });
    // The drill runs where the checker was started, as it would when the
    // student runs it: a relative `--store ./my_store` means the same thing.
    let here = std::env::current_dir().unwrap_or_else(|_| entry.dir.clone());
    let (mut result, text) = run_drill(index, entry, executable, options, &here);
    if let Some(folder) = options.transcripts {
        let path = folder.join(format!("{}.txt", entry.lesson.frontmatter.id));
        if let Err(error) =
            std::fs::create_dir_all(folder).and_then(|()| std::fs::write(&path, &text))
        {
            let message = format!("cannot keep the transcript in {}: {error}", path.display());
            result.result.message = Some(match result.result.message.take() {
                Some(earlier) => format!("{earlier}; {message}"),
                None => message,
            });
        }
    }
    send(finished(result));
}

/// Build the store of the current folder's manifest with `command`,
/// confined through `launcher` (a drill binary) when there is one: the
/// student's own code, but an instructor runs it in a student's clone too,
/// where it must not reach their terminal, files or secrets.
fn build_here(command: &str, timeout: Duration, launcher: Option<&PathBuf>) -> Result<(), Error> {
    let here = std::env::current_dir().map_err(|source| Error::Paste {
        path: ".".into(),
        source,
    })?;
    let temporary = tempfile::Builder::new()
        .prefix("checker-build-")
        .tempdir()
        .map_err(|source| Error::Paste {
            path: std::env::temp_dir(),
            source,
        })?;
    let launcher = launcher.filter(|launcher| store_build::launcher_answers(launcher));
    if launcher.is_none() {
        eprintln!("checker: warning: no drill here can confine the build: it runs unconfined");
    }
    let confined = launcher.map(|launcher| store_build::Confined {
        launcher,
        temporary: temporary.path(),
    });
    store_build::build(command, &here, timeout, confined.as_ref())
        .map_err(|failure| Error::Usage(failure.to_string()))
}

/// Run the drill `executable` of `entry` in `dir` with `options`, and grade
/// it: the result, and the drill's output as it printed it (normalised).
pub fn run_drill(
    index: usize,
    entry: &Entry,
    executable: &Path,
    options: &Options<'_>,
    dir: &Path,
) -> (Finished, String) {
    let timeout = options.timeout;
    let lesson = &entry.lesson;
    let source = entry
        .drill
        .as_ref()
        .and_then(|drill| drill.binary().ok())
        .unwrap_or_default()
        .to_owned();
    let run = match drill::run(executable, &options.arguments(), dir, timeout) {
        Ok(run) => run,
        Err(error) => {
            let message = format!("cannot run {}: {error}", executable.display());
            return (
                Finished::error(index, lesson, source, message),
                String::new(),
            );
        }
    };
    if run.overflowed {
        let message = OutputError::TooLarge {
            limit: lesson::OUTPUT_LIMIT,
        }
        .to_string();
        let result = Finished::error(index, lesson, source, message).with_duration(run.duration);
        return (result, String::new());
    }
    let text = normalize(&run.output);
    // The exit status, not the text, says whether the run failed.
    let report = ProofReport {
        failed_run: None,
        ..lesson.check_text(&text)
    };
    let (exit_code, failure) = match run.ending {
        Ending::Exited(status) => {
            let failure = drill::describe_failure(status).map(|failure| {
                match (status.code(), options.store) {
                    (Some(USAGE), Some(store)) => format!(
                        "{failure}: the drill refused its arguments `--store {store}` \
                         (a usage error: does this drill support --store?)"
                    ),
                    _ => failure,
                }
            });
            // The drill's own verdict says what went wrong, and the likely
            // defect: show it with the exit code.
            let failure = failure.map(|failure| match drill_verdict(&text) {
                Some(verdict) => format!("{failure}: {verdict}"),
                None => failure,
            });
            (status.code(), failure)
        }
        Ending::TimedOut => (
            None,
            Some(format!(
                "timed out after {}; killed",
                drill::seconds(timeout)
            )),
        ),
    };
    let mut result = Finished::graded(index, lesson, source, text.clone(), &report, failure)
        .with_duration(run.duration);
    result.result.exit_code = exit_code;
    if run.abandoned
        && let Some(message) = &mut result.result.message
    {
        message.push_str(&format!(
            "; processes started by the drill kept its output open, reading stopped {} after it exited",
            drill::seconds(drill::DRAIN_GRACE)
        ));
    }
    (result, text)
}

/// The drill's `FAILED: ...` verdict: the last such line of its output.
fn drill_verdict(text: &str) -> Option<&str> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with("FAILED:"))
}

/// The exit code of a drill given arguments it does not accept (clap's).
const USAGE: i32 = 2;

fn finished(result: Finished) -> Event {
    Event::Finished(Box::new(result))
}
