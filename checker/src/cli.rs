//! Command-line interface: argument parsing, output streams and exit codes.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anstream::{AutoStream, ColorChoice};
use clap::{Parser, Subcommand, ValueEnum};

use crate::catalog;
use crate::class::{self, Paste};
use crate::class_run;
use crate::error::Error;
use crate::grade;
use crate::gradebook;
use crate::lint;
use crate::list;
use crate::manifest::{self, Manifest};
use crate::outcome::Summary;
use crate::report::{self, Format};
use crate::run;
use lesson::Lesson;

/// How long a store's build (`store.toml`'s `build`) may take.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Every result passed.
pub const EXIT_PASSED: u8 = 0;
/// A result failed or could not be graded.
pub const EXIT_FAILED: u8 = 1;
/// The command could not run (usage, unknown lesson, unreadable file, invalid
/// lesson document); also what `lint` returns when it finds problems.
pub const EXIT_UNUSABLE: u8 = 2;

const AFTER_HELP: &str = "\
Examples:
  checker list
  checker run                               build and run every drill
  checker run w09-l07 --format junit        one drill, JUnit XML for CI
  checker run --store \"./my_kv\"             every drill against a student's store
  checker grade w09-l07 paste.txt           grade one paste by lesson id
  checker grade lessons/w09-l07 class/      a lesson folder; a class folder
  checker grade w09-l07 class/ --format csv > grades.csv
  pbpaste | checker grade w09-l07           stdin
  checker grade w09-l07 -- class/*          `--` before a shell's `*`: no file name
                                            can pass for an option
  checker grade w09-l07 class/ --include 'run*.txt'
                                            only these files of each student
  checker grade w09-l07 ref.txt --accept-course-stores
                                            a run of the reference store itself
  checker grade w09-l07 own.txt --accept-own-tests
                                            a student's own tests, graded on the
                                            lesson's patterns and the run's verdict

A lesson with a drill (its folder holds the drill's package) passes only on a
receipt-verified transcript of that drill run against the student's own store;
--accept-own-tests grades it on the patterns instead.

Exit codes:
  0  every result passed (and `lint` found nothing)
  1  a result failed or could not be graded
  2  the command could not run: usage, unknown lesson, no lessons, unreadable
     paste, invalid lesson document; and `lint` found problems
  130  `run --class` was interrupted (Ctrl-C): what finished is remembered";

/// Grade course lessons: run their drills, or grade pasted output against
/// each lesson's proof patterns.
#[derive(Debug, Parser)]
#[command(name = "checker", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Folder holding one folder per lesson [default: `lessons/` of the cargo
    /// workspace containing the current directory]
    #[arg(long, value_name = "DIR", global = true)]
    pub lessons: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons: id, title, part, order, xp, proof type, drill binary
    List {
        /// Output format
        #[arg(long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
    /// Check every lesson and report every problem with file:line (exit 2 if any)
    Lint,
    /// Build and run lesson drills, and grade their output
    Run {
        /// Lessons to run [default: every lesson with a drill]
        #[arg(value_name = "ID")]
        ids: Vec<String>,
        /// Kill a drill still running after this many seconds
        #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_timeout)]
        timeout: Duration,
        /// Output format
        #[arg(long, value_enum, default_value_t = RunFormat::Human)]
        format: RunFormat,
        /// Pass `--store CMD` to every drill: run the drills against the KV
        /// store started by CMD (a drill without the option exits 2, reported).
        /// Without it, a store.toml in the current folder is used: its `build`
        /// is run first, its `run` is the store
        #[arg(long, value_name = "CMD")]
        store: Option<String>,
        /// Run every drill against every student's store: CLASS holds one folder per
        /// student (a clone of their repository, with a store.toml); writes the gradebook
        #[arg(long, value_name = "CLASS", conflicts_with = "store")]
        class: Option<PathBuf>,
        /// With --class: students run at once [default: the number of cores]
        #[arg(long, value_name = "N", requires = "class")]
        jobs: Option<usize>,
        /// With --class: forget the results of earlier runs (otherwise only students whose
        /// folder changed are built and run again)
        #[arg(long, requires = "class")]
        fresh: bool,
        /// With --class: where transcripts (one folder per student) and remembered results
        /// go [default: CLASS/.checker]
        #[arg(long, value_name = "DIR", requires = "class")]
        results: Option<PathBuf>,
        /// With --class: kill a store's build still running after this many seconds
        #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_timeout, requires = "class")]
        build_timeout: Duration,
        /// Write each drill's output to DIR/<lesson>.txt (a student's CI keeps them as an
        /// artifact)
        #[arg(long, value_name = "DIR", conflicts_with = "class")]
        transcripts: Option<PathBuf>,
    },
    /// Grade pasted output against a lesson's proof
    Grade {
        /// A lesson id, a lesson folder, or a path to a lesson .md (a path ends in .md or
        /// holds a /); not with --all
        #[arg(required_unless_present = "all")]
        lesson: Option<String>,
        /// A file, a class folder (each regular file in it, or in a student's subfolder, is
        /// one submission; skipped entries are listed on stderr), or - for stdin [default:
        /// stdin]
        #[arg(value_name = "PASTE")]
        pastes: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = GradeFormat::Human)]
        format: GradeFormat,
        /// Accept drill transcripts of the course's own stores: the reference store (a drill
        /// run without --store) and the shipped examples (examples/stores/: the model, the
        /// broken stores, the Rust starter's sources). Without it they fail, since they prove
        /// nothing about a student's store; use it to grade the reference drills themselves
        #[arg(long)]
        accept_course_stores: bool,
        /// For a lesson with a drill: grade pastes of the students' own tests too, on the
        /// lesson's patterns and the run's verdict (in any language), instead of asking for the
        /// drill's verified transcript
        #[arg(long)]
        accept_own_tests: bool,
        /// In class folders, grade only the files matching GLOB (repeatable): a glob without `/`
        /// is matched against file names (`run*.txt`), one with `/` against the path below the
        /// class folder (`*/proof/*.txt`)
        #[arg(long, value_name = "GLOB")]
        include: Vec<String>,
        /// Grade every lesson folder of CLASS (CLASS/w09-l07/..., CLASS/w09-l08/..., each
        /// holding one folder per student) into one gradebook
        #[arg(long, value_name = "CLASS", conflicts_with_all = ["lesson", "pastes"])]
        all: Option<PathBuf>,
        /// Write a gradebook, one row per student per lesson (the best submission decides),
        /// instead of a row per submission; implied by --all
        #[arg(long)]
        gradebook: bool,
        /// In the gradebook, give XP to STUDENT's copy-flagged passes: you have checked them
        /// (repeatable)
        #[arg(long, value_name = "STUDENT")]
        clear: Vec<String>,
        /// Like --clear, for every student named in FILE (one name a line; # starts a comment)
        #[arg(long, value_name = "FILE")]
        clear_file: Option<PathBuf>,
    },
}

/// Formats of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// An aligned table
    Human,
    /// `{"schema":1,"lessons":[...]}`
    Json,
}

/// Formats of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// Readable text, coloured on a terminal
    Human,
    /// `{"schema":3,"results":[...],"summary":{...}}`
    Json,
    /// JUnit XML
    Junit,
    /// Comma-separated values: a row per result, or the gradebook with --class
    Csv,
}

/// Formats of `grade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GradeFormat {
    /// Readable text, coloured on a terminal
    Human,
    /// `{"schema":3,"results":[...],"summary":{...}}`
    Json,
    /// JUnit XML
    Junit,
    /// lesson,source,status,xp,missing_patterns,message,copy_of
    Csv,
}

impl From<RunFormat> for Format {
    fn from(format: RunFormat) -> Self {
        match format {
            RunFormat::Human => Self::Human,
            RunFormat::Json => Self::Json,
            RunFormat::Junit => Self::Junit,
            RunFormat::Csv => Self::Csv,
        }
    }
}

impl From<GradeFormat> for Format {
    fn from(format: GradeFormat) -> Self {
        match format {
            GradeFormat::Human => Self::Human,
            GradeFormat::Json => Self::Json,
            GradeFormat::Junit => Self::Junit,
            GradeFormat::Csv => Self::Csv,
        }
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if seconds <= 0.0 {
        return Err("the timeout must be more than 0 seconds".into());
    }
    Duration::try_from_secs_f64(seconds).map_err(|error| error.to_string())
}

/// Whether human output may be coloured: only on a terminal, never when
/// `NO_COLOR` is set (to anything but the empty string), and otherwise as the
/// usual conventions (`CLICOLOR`, `TERM=dumb`) say.
pub fn color_choice(is_terminal: bool, no_color: bool, conventions: ColorChoice) -> ColorChoice {
    if no_color || !is_terminal {
        ColorChoice::Never
    } else {
        conventions
    }
}

/// Standard output for human reports: styles are stripped unless
/// [`color_choice`] allows them.
pub fn human_stdout() -> AutoStream<io::Stdout> {
    let stdout = io::stdout();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let choice = color_choice(stdout.is_terminal(), no_color, AutoStream::choice(&stdout));
    AutoStream::new(stdout, choice)
}

fn output_for(format: Format) -> Box<dyn Write> {
    match format {
        Format::Human => Box::new(human_stdout()),
        _ => Box::new(io::stdout()),
    }
}

/// Run a parsed command line; returns the process exit code.
pub fn execute(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        // A reader that stops reading (`checker ... | head`) made that choice,
        // as with any Unix tool: end quietly.
        Err(Error::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(EXIT_PASSED)
        }
        Err(error @ Error::Interrupted { .. }) => {
            let _ = writeln!(io::stderr(), "checker: {error}");
            ExitCode::from(crate::reaping::EXIT_INTERRUPTED)
        }
        Err(error) => {
            let _ = writeln!(io::stderr(), "checker: error: {error}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

/// A `--lessons` folder inside a folder being graded could be a student's:
/// a file named `--lessons=evil` among the pastes, expanded by a shell's
/// `*`, would grade the class against a lesson the student wrote.
fn refuse_lessons_inside_pastes(
    lessons: Option<&std::path::Path>,
    pastes: &[PathBuf],
) -> Result<(), Error> {
    let Some(lessons) = lessons.and_then(|dir| std::fs::canonicalize(dir).ok()) else {
        return Ok(());
    };
    for paste in pastes.iter().filter(|paste| paste.is_dir()) {
        if let Ok(folder) = std::fs::canonicalize(paste)
            && lessons.starts_with(&folder)
        {
            return Err(Error::Usage(format!(
                "--lessons {} is inside the folder being graded ({}): refusing to grade \
                 submissions against lessons that may be a student's",
                lessons.display(),
                paste.display()
            )));
        }
    }
    Ok(())
}

/// Refuse a `grade` command line in which an argument that clap reads as an
/// option (or `-`, stdin) is also the name of a file here: a shell's `*`
/// in a folder of student files expanded to it. Arguments after `--` are
/// pastes whatever they are named.
pub fn refuse_expanded_options(arguments: &[std::ffi::OsString]) -> Result<(), Error> {
    let Some(at) = arguments.iter().position(|argument| argument == "grade") else {
        return Ok(());
    };
    for argument in &arguments[at + 1..] {
        if argument == "--" {
            break;
        }
        let text = argument.to_string_lossy();
        let name = text.split('=').next().unwrap_or_default();
        let file_named = |name: &str| std::path::Path::new(name).symlink_metadata().is_ok();
        if text.starts_with('-') && (file_named(&text) || file_named(name)) {
            return Err(Error::Usage(format!(
                "`{}` is an option, but a file here has that name: a shell's `*` may have \
                 expanded to it. Put `--` before the pastes (checker grade LESSON -- FILES...) \
                 or name the class folder instead",
                report::printable(&text)
            )));
        }
    }
    Ok(())
}

fn dispatch(cli: Cli) -> Result<u8, Error> {
    let lessons = cli.lessons;
    let lessons_given = lessons.clone();
    let lessons_dir = move || {
        lessons
            .clone()
            .map_or_else(catalog::workspace_lessons_dir, Ok)
    };
    let verdict = |summary: Summary| {
        if summary.all_passed() {
            EXIT_PASSED
        } else {
            EXIT_FAILED
        }
    };
    match cli.command {
        Command::List { format } => {
            let mut out = output_for(Format::Human);
            list::list(&lessons_dir()?, format == ListFormat::Json, &mut out)?;
            Ok(EXIT_PASSED)
        }
        Command::Lint => {
            let problems = lint::lint(&lessons_dir()?, &mut output_for(Format::Human))?;
            Ok(if problems == 0 {
                EXIT_PASSED
            } else {
                EXIT_UNUSABLE
            })
        }
        Command::Run {
            ids,
            timeout,
            format,
            store,
            class,
            jobs,
            fresh,
            results,
            build_timeout,
            transcripts,
        } => {
            let format = Format::from(format);
            if let Some(class) = class {
                let options = class_run::ClassOptions {
                    ids,
                    timeout,
                    build_timeout,
                    jobs: jobs.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, usize::from)
                    }),
                    fresh,
                    results: results.unwrap_or_else(|| class.join(".checker")),
                };
                // Nothing the class run starts outlives it (reaping.rs).
                crate::reaping::take_charge().map_err(|error| {
                    Error::Usage(format!(
                        "cannot watch over the class run's processes: {error}"
                    ))
                })?;
                let mut out = output_for(format);
                let totals =
                    class_run::run_class(&lessons_dir()?, &class, &options, format, &mut out)?;
                return Ok(if totals.all_passed() {
                    EXIT_PASSED
                } else {
                    EXIT_FAILED
                });
            }
            // Without --store, the store of the folder's manifest, built.
            let here = std::env::current_dir().map_err(|source| Error::Paste {
                path: ".".into(),
                source,
            })?;
            let manifest = match &store {
                Some(_) => None,
                None => Manifest::find(&here).map_err(|error| Error::Usage(error.to_string()))?,
            };
            if let Some(manifest) = &manifest {
                let mut stderr = io::stderr().lock();
                let _ = writeln!(
                    stderr,
                    "checker: using {}: run `{}`",
                    manifest::FILE,
                    manifest.run
                );
                if let Some(build) = &manifest.build {
                    let _ = writeln!(stderr, "checker: building the store: {build}");
                }
            }
            let build = manifest.as_ref().and_then(|m| m.build.clone());
            // A manifest's store is the repository's own: it reads nothing
            // outside it (an instructor runs this in a student's clone too).
            let store_root = manifest.is_some().then(|| std::path::Path::new("."));
            let store = store.or_else(|| manifest.map(|manifest| manifest.run));
            let mut reporter = report::reporter(format, output_for(format));
            let options = run::Options {
                timeout,
                store: store.as_deref(),
                store_root,
                build: build.as_deref().map(|build| (build, BUILD_TIMEOUT)),
                transcripts: transcripts.as_deref(),
            };
            run::run(&lessons_dir()?, &ids, &options, reporter.as_mut()).map(verdict)
        }
        Command::Grade {
            lesson,
            pastes,
            format,
            accept_course_stores,
            accept_own_tests,
            include,
            all,
            gradebook,
            clear,
            clear_file,
        } => {
            refuse_lessons_inside_pastes(lessons_given.as_deref(), &pastes)?;
            if let Some(class) = &all {
                refuse_lessons_inside_pastes(
                    lessons_given.as_deref(),
                    std::slice::from_ref(class),
                )?;
            }
            let include = class::Include::new(&include)?;
            let format = Format::from(format);
            let base = grade::Options {
                accept_course_stores,
                accept_own_tests,
                drill: None,
            };
            let mut graded: Vec<(Lesson, class::Submissions)> = Vec::new();
            if let Some(class) = &all {
                let dir = lessons_dir()?;
                for folder in class::lesson_folders(class, &dir)? {
                    let id = folder
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    let lesson = grade::find_lesson(&id, || Ok(dir.clone()))?;
                    graded.push((lesson, class::submissions(&[folder], &include)?));
                }
                if graded.is_empty() {
                    return Err(Error::Usage(format!(
                        "--all {}: no folder in it is named after a lesson of {} (expected CLASS/<lesson id>/<student>/...)",
                        class.display(),
                        dir.display()
                    )));
                }
            } else {
                let id = lesson.unwrap_or_default();
                let lesson = grade::find_lesson(&id, &lessons_dir)?;
                if let Ok(dir) = lessons_dir() {
                    class::refuse_a_parent_of_lesson_folders(&pastes, &dir)?;
                }
                graded.push((lesson, class::submissions(&pastes, &include)?));
            }
            let mut stderr = io::stderr().lock();
            for (_, found) in &graded {
                for skipped in &found.skipped {
                    let path = report::printable(&skipped.path.display().to_string()).into_owned();
                    let _ = writeln!(stderr, "checker: skipped {path}: {}", skipped.reason);
                }
                if found.pastes.contains(&Paste::Stdin) && io::stdin().is_terminal() {
                    let _ = writeln!(
                        stderr,
                        "checker: reading the paste from stdin until end of file (Ctrl-D; Ctrl-Z Enter on Windows)"
                    );
                }
            }
            drop(stderr);
            let mut out = output_for(format);
            if format == Format::Human {
                for (lesson, _) in &graded {
                    let rule = match (grade::drill_rule(lesson), accept_own_tests) {
                        (Some(_), false) => "its drill's verified transcript",
                        (Some(_), true) => "its patterns (--accept-own-tests)",
                        (None, _) => "its patterns (no drill beside it)",
                    };
                    writeln!(
                        out,
                        "grading {} against {}, on {rule}",
                        report::printable(&lesson.frontmatter.id),
                        report::printable(&lesson.path.display().to_string())
                    )?;
                }
            }
            if !(gradebook || all.is_some()) {
                let (lesson, found) = graded.remove(0);
                let options = grade::Options {
                    drill: grade::drill_rule(&lesson),
                    ..base
                };
                let mut reporter = report::reporter(format, out);
                return grade::grade(&lesson, &found.pastes, &options, reporter.as_mut())
                    .map(verdict);
            }
            let mut cleared: std::collections::HashSet<String> = clear.into_iter().collect();
            if let Some(file) = &clear_file {
                let text = std::fs::read_to_string(file).map_err(|source| Error::Paste {
                    path: file.clone(),
                    source,
                })?;
                cleared.extend(
                    text.lines()
                        .map(|line| line.split('#').next().unwrap_or_default().trim())
                        .filter(|name| !name.is_empty())
                        .map(str::to_owned),
                );
            }
            let mut results = Vec::new();
            let mut students = Vec::new();
            for (lesson, found) in &graded {
                let options = grade::Options {
                    drill: grade::drill_rule(lesson),
                    ..base.clone()
                };
                results.extend(grade::grade_all(lesson, &found.pastes, &options));
                students.extend(found.pastes.iter().map(Paste::student));
            }
            let rows = gradebook::rows(&results, &students, &cleared);
            for name in &cleared {
                if !rows.iter().any(|row| &row.student == name) {
                    let _ = writeln!(
                        io::stderr(),
                        "checker: --clear {}: no student of that name in the gradebook",
                        report::printable(name)
                    );
                }
            }
            let totals = gradebook::write(format, &rows, &mut out)?;
            Ok(if totals.all_passed() {
                EXIT_PASSED
            } else {
                EXIT_FAILED
            })
        }
    }
}
