//! `checker run --class DIR`: the instructor's own run of a whole class.
//!
//! DIR holds one folder per student, a clone of their repository (as GitHub
//! Classroom's tools download a class). For each student, in parallel
//! (`--jobs`): read `store.toml` ([`crate::manifest`]; a missing or invalid
//! one is that student's error row), build the store (its `build`, bounded
//! in time, everything it started ended with it), run every drill against
//! it from the student's folder (each drill confines and bounds the store
//! itself), and keep the transcripts, one folder per student, so each
//! student can be sent their own. The rows are the gradebook's
//! ([`crate::gradebook::Row`]), the same type `checker grade --gradebook`
//! writes, so the two merge. Nothing the run starts outlives it, and Ctrl-C
//! keeps what finished ([`crate::reaping`]).
//!
//! **Reruns cost only what changed.** A student's results are remembered
//! with the fingerprint of their folder ([`crate::survey`]: every entry,
//! taken after the build, so the build's own outputs count as unchanged)
//! and of what grades them (the drills, the lesson documents and the
//! checker itself); a rerun rebuilds and reruns only the students whose
//! fingerprint changed, and those whose last run timed out (a busy machine,
//! not their store, may have caused it). `--fresh` forgets.
//!
//! **Only the student's own store.** Each drill gets `--store-root` with the
//! student's folder (their store reads nothing of a classmate's, of the
//! results, or of the instructor's files by naming them), and a folder that
//! carries a copy of one of the course's stores fails every lesson.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use cargo_metadata::PackageId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{self, Entry};
use crate::copies;
use crate::course_stores;
use crate::drill;
use crate::error::Error;
use crate::gradebook::{self, Row, Totals};
use crate::manifest::Manifest;
use crate::outcome::{Finished, Status};
use crate::progress::Progress;
use crate::reaping;
use crate::report::Format;
use crate::run::{self, Options};
use crate::store_build;
use crate::survey;

/// How to run a class.
#[derive(Debug, Clone)]
pub struct ClassOptions {
    /// Lessons to run (every lesson with a drill when empty).
    pub ids: Vec<String>,
    /// Kill a drill still running after this long.
    pub timeout: Duration,
    /// Kill a build still running after this long.
    pub build_timeout: Duration,
    /// Students run at once.
    pub jobs: usize,
    /// Forget the results of earlier runs.
    pub fresh: bool,
    /// Where transcripts and the remembered results go.
    pub results: PathBuf,
}

/// What is remembered between runs, in `RESULTS/results.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Remembered {
    /// The fingerprint of what graded them: drills, lessons, checker.
    drills: String,
    /// Per student: their folder's fingerprint and rows.
    students: BTreeMap<String, StudentResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StudentResult {
    fingerprint: String,
    rows: Vec<Row>,
    /// Whether a build or drill timed out: run again next time.
    #[serde(default)]
    retry: bool,
    /// Per lesson, the fingerprint of the store the drill tested (see
    /// [`copies::fingerprint`]), to flag students with the same store.
    #[serde(default)]
    stores: BTreeMap<String, String>,
}

/// One student done.
struct Done {
    student: String,
    result: StudentResult,
    /// Whether the remembered rows were kept.
    reused: bool,
    elapsed: Duration,
}

/// Run every drill against every student's store in `class` and write the
/// gradebook to `out` in `format`.
pub fn run_class(
    lessons_dir: &Path,
    class: &Path,
    options: &ClassOptions,
    format: Format,
    out: &mut dyn Write,
) -> Result<Totals, Error> {
    let entries = run::select(catalog::load(lessons_dir)?, &options.ids, lessons_dir)?;
    let drills: Vec<_> = entries.iter().filter_map(|e| e.drill.as_ref()).collect();
    let executables = drill::build(&drills)?;
    let built: HashMap<&PackageId, String> = executables
        .iter()
        .filter_map(|(id, path)| Some((id, drill::file_sha256(path).ok()?)))
        .collect();
    // What grades the class: the drills, the lesson documents (their proof
    // patterns and XP) and this checker; a change to any reruns everyone.
    let mut graded_by: Vec<String> = built.values().cloned().collect();
    graded_by.sort();
    for entry in &entries {
        graded_by.push(hex(&Sha256::digest(
            std::fs::read(&entry.lesson.path).unwrap_or_default(),
        )));
    }
    graded_by.extend(
        std::env::current_exe()
            .and_then(|exe| drill::file_sha256(&exe))
            .ok(),
    );
    let drills_fingerprint = hex(&Sha256::digest(graded_by.join(" ")));
    if nix::unistd::geteuid().is_root() {
        eprintln!(
            "checker: warning: running a class as root: a store's process limit (RLIMIT_NPROC) does not apply to root, and sockets only root may open are within a store's reach; run class runs as an unprivileged user"
        );
    }
    let students = student_folders(class, &options.results)?;
    std::fs::create_dir_all(&options.results).map_err(|source| Error::Paste {
        path: options.results.clone(),
        source,
    })?;
    // One class run at a time per results folder: two would build the same
    // folders at once and overwrite each other's memory.
    let lock_path = options.results.join(".lock");
    let _lock = std::fs::File::create(&lock_path)
        .map_err(|source| Error::Paste {
            path: lock_path.clone(),
            source,
        })
        .and_then(|file| {
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(
                |_| {
                    Error::Usage(format!(
                        "another class run is using {} (its lock {} is held): wait for it, or give this run its own --results",
                        options.results.display(),
                        lock_path.display()
                    ))
                },
            )
        })?;
    let memory_path = options.results.join("results.json");
    let remembered: Remembered = if options.fresh {
        Remembered::default()
    } else {
        std::fs::read(&memory_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|r: &Remembered| r.drills == drills_fingerprint)
            .unwrap_or_default()
    };

    let queue = Mutex::new(students.iter());
    let changed: Mutex<Option<PathBuf>> = Mutex::new(None);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let mut results: BTreeMap<String, StudentResult> = BTreeMap::new();
    let jobs = options.jobs.max(1).min(students.len().max(1));
    let context = Context {
        entries: &entries,
        executables: &executables,
        built: &built,
        options,
        remembered: &remembered,
        changed: &changed,
    };
    thread::scope(|scope| {
        for _ in 0..jobs {
            let done_tx = done_tx.clone();
            let (queue, context) = (&queue, &context);
            scope.spawn(move || {
                loop {
                    if context
                        .changed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_some()
                    {
                        break;
                    }
                    if reaping::interrupted() {
                        break;
                    }
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((name, folder)) = next else { break };
                    let started = Instant::now();
                    let (result, reused) = context.student(name, folder);
                    // Interrupted students are not remembered: the next run
                    // redoes them.
                    if reaping::interrupted() {
                        break;
                    }
                    reaping::end_escaped();
                    let _ = done_tx.send(Done {
                        student: name.clone(),
                        result,
                        reused,
                        elapsed: started.elapsed(),
                    });
                }
            });
        }
        drop(done_tx);
        let mut progress = Progress::new(students.len());
        for done in done_rx {
            progress.done(&done.student, &done.result.rows, done.reused, done.elapsed);
            results.insert(done.student, done.result);
        }
        progress.finish();
    });
    reaping::end_escaped();
    if let Some(path) = changed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(Error::DrillChanged(path));
    }
    if reaping::interrupted() {
        // What finished is remembered, beside what earlier runs remembered
        // of the students this one did not reach; no gradebook is written.
        let finished = results.len();
        let mut kept = remembered.students;
        kept.extend(results);
        let memory = Remembered {
            drills: drills_fingerprint,
            students: kept,
        };
        save(&memory_path, &memory)?;
        return Err(Error::Interrupted {
            finished,
            students: students.len(),
            results: memory_path,
        });
    }
    let memory = Remembered {
        drills: drills_fingerprint,
        students: results,
    };
    save(&memory_path, &memory)?;
    let flags = same_stores(&memory.students);
    let rows: Vec<Row> = memory
        .students
        .into_values()
        .flat_map(|r| r.rows)
        .map(|mut row| {
            if let Some(others) = flags.get(&(row.student.clone(), row.lesson.clone())) {
                row.same_store_as = others.clone();
            }
            row
        })
        .collect();
    gradebook::write(format, &rows, out).map_err(Error::Output)
}

/// Per (student, lesson), the other students whose drill tested the same
/// store (at most [`copies::MAX_LISTED`] named): neither wrote it alone.
fn same_stores(
    students: &BTreeMap<String, StudentResult>,
) -> HashMap<(String, String), Vec<String>> {
    let mut by_store: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for (student, result) in students {
        for (lesson, store) in &result.stores {
            by_store.entry((lesson, store)).or_default().push(student);
        }
    }
    let mut flags = HashMap::new();
    for ((lesson, _), group) in by_store.into_iter().filter(|(_, group)| group.len() > 1) {
        for &student in &group {
            let others: Vec<String> = group
                .iter()
                .filter(|&&other| other != student)
                .take(copies::MAX_LISTED)
                .map(|&other| other.to_owned())
                .collect();
            flags.insert((student.to_owned(), lesson.to_owned()), others);
        }
    }
    flags
}

/// What every worker shares.
struct Context<'a> {
    entries: &'a [Entry],
    executables: &'a HashMap<PackageId, PathBuf>,
    built: &'a HashMap<&'a PackageId, String>,
    options: &'a ClassOptions,
    remembered: &'a Remembered,
    changed: &'a Mutex<Option<PathBuf>>,
}

impl Context<'_> {
    /// Build and drill one student, or keep their remembered rows when
    /// nothing changed.
    fn student(&self, name: &str, folder: &Path) -> (StudentResult, bool) {
        let before = survey::survey(folder);
        if let (Ok(now), Some(kept)) = (&before, self.remembered.students.get(name))
            && kept.fingerprint == now.fingerprint
            && !kept.retry
        {
            return (kept.clone(), true);
        }
        let error_rows = |message: String| {
            let results: Vec<Finished> = self
                .entries
                .iter()
                .enumerate()
                .map(|(index, entry)| {
                    Finished::error(index, &entry.lesson, name.to_owned(), message.clone())
                })
                .collect();
            gradebook::rows(
                &results,
                &vec![name.to_owned(); results.len()],
                &HashSet::new(),
            )
        };
        let result = |rows: Vec<Row>| {
            let fingerprint = survey::survey(folder)
                .map(|survey| survey.fingerprint)
                .unwrap_or_default();
            let retry = rows.iter().any(|row| {
                row.message
                    .as_deref()
                    .is_some_and(|message| message.contains("timed out after"))
            });
            let rows = rows
                .into_iter()
                .map(|row| Row {
                    fingerprint: Some(fingerprint.clone()),
                    ..row
                })
                .collect();
            let stores = BTreeMap::new();
            (
                StudentResult {
                    fingerprint,
                    rows,
                    retry,
                    stores,
                },
                false,
            )
        };
        let before = match before {
            Ok(before) => before,
            Err(message) => return result(error_rows(message)),
        };
        let manifest = match Manifest::find(folder) {
            Ok(Some(manifest)) => manifest,
            Ok(None) => {
                return result(error_rows(
                    "no store.toml in the student's folder: the repository must say how to build \
                     and run its store (docs/store-protocol.md, The store manifest)"
                        .to_owned(),
                ));
            }
            Err(error) => return result(error_rows(error.to_string())),
        };
        if let Some(build) = &manifest.build
            && let Err(failure) = self.build(build, folder)
        {
            return result(error_rows(failure.to_string()));
        }
        // After the build too: a build may fetch what it runs.
        let course_copy = survey::survey(folder)
            .ok()
            .and_then(|after| after.course_copy)
            .or(before.course_copy);
        let kept = self.options.results.join(folder_name(name));
        let mut stores: BTreeMap<String, String> = BTreeMap::new();
        let _ = std::fs::create_dir_all(&kept);
        let drill_options = Options {
            timeout: self.options.timeout,
            store: Some(&manifest.run),
            // The drill runs in the student's folder: `.` is that folder,
            // whatever bytes its name holds.
            store_root: Some(Path::new(".")),
            build: None,
            transcripts: None,
        };
        let mut finished = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let Some(drill) = &entry.drill else { continue };
            let Some(executable) = self.executables.get(&drill.package_id) else {
                let message = "the drill did not build (see cargo's messages above)".to_owned();
                finished.push(Finished::error(
                    index,
                    &entry.lesson,
                    name.to_owned(),
                    message,
                ));
                continue;
            };
            if let Some(path) = run::replaced(entry, self.executables, self.built) {
                self.changed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(path);
                break;
            }
            let (mut result, text) =
                run::run_drill(index, entry, executable, &drill_options, folder);
            // The store the drill says it tested must be the student's own:
            // a student may hand in the course's model, or a script that runs
            // the reference store.
            let tested = entry
                .lesson
                .check_text(&text)
                .transcripts
                .pop()
                .and_then(|t| t.store);
            if let Some(copy) = &course_copy {
                fail(&mut result, copy.clone());
            }
            if let Some(store) = &tested {
                if let Some(problem) = course_stores::problem(std::slice::from_ref(store)) {
                    fail(&mut result, problem);
                }
                if let Some(fingerprint) = copies::fingerprint(store) {
                    stores.insert(entry.lesson.frontmatter.id.clone(), fingerprint);
                }
            }
            let transcript = kept.join(format!("{}.txt", entry.lesson.frontmatter.id));
            let _ = std::fs::write(&transcript, &text);
            result.result.source = transcript.display().to_string();
            finished.push(result);
        }
        let students = vec![name.to_owned(); finished.len()];
        let (mut done, reused) = result(gradebook::rows(&finished, &students, &HashSet::new()));
        done.stores = stores;
        (done, reused)
    }
}

impl Context<'_> {
    /// Build a student's store, confined through a drill's launcher: write
    /// access to their folder and a temporary one only.
    fn build(&self, command: &str, folder: &Path) -> Result<(), store_build::BuildFailure> {
        let temporary = tempfile::Builder::new()
            .prefix("checker-build-")
            .tempdir()
            .map_err(|error| store_build::BuildFailure {
                ending: format!("could not start: no temporary folder: {error}"),
                tail: String::new(),
            })?;
        let launcher = self.executables.values().next();
        let confined = launcher.map(|launcher| store_build::Confined {
            launcher,
            temporary: temporary.path(),
        });
        store_build::build(
            command,
            folder,
            self.options.build_timeout,
            confined.as_ref(),
        )
    }
}

/// The student folders of `class`, sorted by name: its visible folders,
/// not links, and not the results folder.
fn student_folders(class: &Path, results: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let results = std::fs::canonicalize(results).ok();
    let mut students = Vec::new();
    let entries = std::fs::read_dir(class).map_err(|source| Error::Paste {
        path: class.to_owned(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = crate::class::student_name(&entry.file_name());
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let path = entry.path();
        if name.starts_with('.') || !is_dir || std::fs::canonicalize(&path).ok() == results {
            continue;
        }
        students.push((name, path));
    }
    students.sort();
    if students.is_empty() {
        return Err(Error::EmptyFolder(class.to_owned()));
    }
    Ok(students)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A student's name as a folder name, one to one: `[A-Za-z0-9._-]` kept,
/// every other byte as `%XX` (so `c d` and `c_d` keep folders of their own).
fn folder_name(name: &str) -> String {
    let mut folder = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"._-".contains(&byte) {
            folder.push(char::from(byte));
        } else {
            folder.push_str(&format!("%{byte:02X}"));
        }
    }
    if folder.starts_with('.') {
        folder.replace_range(0..1, "%2E");
    }
    folder
}

/// Make `result` a failure for `reason`.
fn fail(result: &mut Finished, reason: String) {
    result.result.status = Status::Fail;
    result.result.xp = 0;
    result.result.message = Some(match result.result.message.take() {
        Some(earlier) => format!("{earlier}; {reason}"),
        None => reason,
    });
}

/// Write `memory` to `path` through a temporary file and a rename, so a run
/// killed halfway leaves the previous results whole.
fn save(path: &Path, memory: &Remembered) -> Result<(), Error> {
    let write_error = |source| Error::Paste {
        path: path.to_owned(),
        source,
    };
    let temporary = path.with_extension("json.tmp");
    let bytes =
        serde_json::to_vec_pretty(memory).map_err(|error| write_error(io::Error::other(error)))?;
    std::fs::write(&temporary, bytes).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)
}
