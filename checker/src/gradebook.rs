//! The gradebook: one row per student per lesson, from graded submissions.
//!
//! A class folder holds several submissions per student (one folder each,
//! as GitHub Classroom downloads a class); the gradebook keeps the best of
//! them per lesson (a pass over a failure over an error, the first of equals
//! in file order) and says which file it came from. A submission flagged as
//! a copy, or as testing the same store as another student's, earns no XP
//! in the gradebook until the instructor clears its student (`--clear NAME`,
//! or a file of names with `--clear-file`): the flag is shown either way.
//!
//! The row is one stable serde type ([`Row`]), written as CSV (`student,
//! lesson,status,xp,...`), JSON, JUnit (a suite per lesson, a case per
//! student) or a human table; `checker run --class` writes the same type,
//! so the two gradebooks merge.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use crate::outcome::{Finished, SCHEMA_VERSION, Status};
use crate::report::{Format, copy_flags, printable};

/// One student's result for one lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The student: the first folder under the class (or lesson) folder, or
    /// a loose file's name without extension.
    pub student: String,
    /// Lesson id.
    pub lesson: String,
    /// The best submission's verdict.
    pub status: Status,
    /// XP earned: the lesson's on a pass, unless held for a copy flag.
    pub xp: u32,
    /// Why it did not pass, or why its XP is held; `null` otherwise.
    pub message: Option<String>,
    /// The other submissions the best one is a copy of.
    pub copy_of: Vec<String>,
    /// Other students' submissions that tested the same store.
    pub same_store_as: Vec<String>,
    /// Whether the XP of a pass is held for a copy flag.
    pub held: bool,
    /// The file the row's verdict came from.
    pub file: String,
    /// How many submissions of this student for this lesson were graded.
    pub submissions: usize,
    /// How long the drill ran, when the row comes from a run.
    pub duration_ms: Option<u64>,
    /// The fingerprint of the student's repository that was built and run
    /// (SHA-256 of its files), when the row comes from a class run.
    pub fingerprint: Option<String>,
}

/// Totals over a gradebook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Distinct students.
    pub students: usize,
    /// Rows with status `pass`.
    pub passed: usize,
    /// Rows with status `fail`.
    pub failed: usize,
    /// Rows with status `error`.
    pub errors: usize,
    /// Rows whose best submission is flagged as a copy or same store.
    pub flagged: usize,
    /// Rows whose XP is held for a flag.
    pub held: usize,
    /// XP earned over all rows.
    pub xp_earned: u64,
}

impl Totals {
    /// Whether every row passed and none is held.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.errors == 0 && self.held == 0
    }
}

/// The submissions a student's row names as copies, then as the same store.
type Flags = (Vec<String>, Vec<String>);

/// Rows from graded submissions: `results[i]` graded the submission of
/// `students[i]`. Rows come sorted by student, then lesson.
pub fn rows(results: &[Finished], students: &[String], cleared: &HashSet<String>) -> Vec<Row> {
    let mut best: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new(); // → (index, count)
    let rank = |status: Status| match status {
        Status::Pass => 0,
        Status::Fail => 1,
        Status::Error => 2,
    };
    for (index, (finished, student)) in results.iter().zip(students).enumerate() {
        let key = (student.as_str(), finished.result.lesson.as_str());
        best.entry(key)
            .and_modify(|(kept, count)| {
                *count += 1;
                if rank(finished.result.status) < rank(results[*kept].result.status) {
                    *kept = index;
                }
            })
            .or_insert((index, 1));
    }
    // A student's flags for a lesson are those of all their submissions:
    // a copy kept beside an own run is still a copy.
    let mut flags: BTreeMap<(&str, &str), Flags> = BTreeMap::new();
    for (finished, student) in results.iter().zip(students) {
        let entry = flags
            .entry((student.as_str(), finished.result.lesson.as_str()))
            .or_default();
        for (into, from) in [
            (&mut entry.0, &finished.result.copy_of),
            (&mut entry.1, &finished.result.same_store_as),
        ] {
            for name in from {
                if into.len() < crate::copies::MAX_LISTED && !into.contains(name) {
                    into.push(name.clone());
                }
            }
        }
    }
    best.into_iter()
        .map(|((student, lesson), (index, count))| {
            let mut result = results[index].result.clone();
            let (copy_of, same_store_as) = flags.remove(&(student, lesson)).unwrap_or_default();
            result.copies = result.copies.max(copy_of.len());
            result.same_store_count = result.same_store_count.max(same_store_as.len());
            result.copy_of = copy_of;
            result.same_store_as = same_store_as;
            let result = &result;
            let flagged = !result.copy_of.is_empty() || !result.same_store_as.is_empty();
            let held = result.status == Status::Pass && flagged && !cleared.contains(student);
            let message = if held {
                let flags = copy_flags(result).join("; ");
                Some(format!(
                    "XP held: {flags}; clear the student with --clear {student} once you have decided"
                ))
            } else {
                result.message.clone()
            };
            Row {
                student: student.to_owned(),
                lesson: lesson.to_owned(),
                status: result.status,
                xp: if held { 0 } else { result.xp },
                message,
                copy_of: result.copy_of.clone(),
                same_store_as: result.same_store_as.clone(),
                held,
                file: result.source.clone(),
                submissions: count,
                duration_ms: result.duration_ms,
                fingerprint: None,
            }
        })
        .collect()
}

/// Count the rows.
pub fn totals(rows: &[Row]) -> Totals {
    let mut totals = Totals {
        students: rows
            .iter()
            .map(|row| row.student.as_str())
            .collect::<HashSet<_>>()
            .len(),
        ..Totals::default()
    };
    for row in rows {
        match row.status {
            Status::Pass => totals.passed += 1,
            Status::Fail => totals.failed += 1,
            Status::Error => totals.errors += 1,
        }
        totals.flagged += usize::from(!row.copy_of.is_empty() || !row.same_store_as.is_empty());
        totals.held += usize::from(row.held);
        totals.xp_earned += u64::from(row.xp);
    }
    totals
}

/// Write the gradebook in `format`.
pub fn write(format: Format, rows: &[Row], out: &mut dyn Write) -> io::Result<Totals> {
    let totals = totals(rows);
    match format {
        Format::Csv => csv(rows, out)?,
        Format::Json => {
            #[derive(Serialize)]
            struct Document<'a> {
                schema: u32,
                gradebook: &'a [Row],
                totals: Totals,
            }
            let document = Document {
                schema: SCHEMA_VERSION,
                gradebook: rows,
                totals,
            };
            serde_json::to_writer_pretty(&mut *out, &document)?;
            writeln!(out)?;
        }
        Format::Junit => junit(rows, out)?,
        Format::Human => human(rows, &totals, out)?,
    }
    out.flush()?;
    Ok(totals)
}

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "student,lesson,status,xp,message,copy_of,same_store_as,held,file,submissions,duration_ms,fingerprint";

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
    }
}

fn csv(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for row in rows {
        let cells = [
            crate::report::csv_field(&row.student),
            crate::report::csv_field(&row.lesson),
            status_word(row.status).to_owned(),
            row.xp.to_string(),
            crate::report::csv_field(row.message.as_deref().unwrap_or_default()),
            crate::report::csv_field(&row.copy_of.join("; ")),
            crate::report::csv_field(&row.same_store_as.join("; ")),
            row.held.to_string(),
            crate::report::csv_field(&row.file),
            row.submissions.to_string(),
            row.duration_ms
                .map_or_else(String::new, |ms| ms.to_string()),
            row.fingerprint.clone().unwrap_or_default(),
        ];
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

fn junit(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for row in rows {
        let status = if row.status == Status::Pass && !row.held {
            TestCaseStatus::success()
        } else {
            let kind = if row.status == Status::Error {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(printable(row.message.as_deref().unwrap_or_default()));
            status
        };
        let mut case = TestCase::new(printable(&row.student), status);
        case.set_classname(printable(&row.lesson));
        suites
            .entry(row.lesson.as_str())
            .or_insert_with(|| TestSuite::new(printable(&row.lesson).into_owned()))
            .add_test_case(case);
    }
    let mut report = Report::new("checker gradebook");
    report.add_test_suites(suites.into_values());
    report.serialize(&mut *out).map_err(io::Error::other)?;
    writeln!(out)
}

fn human(rows: &[Row], totals: &Totals, out: &mut dyn Write) -> io::Result<()> {
    let width = rows
        .iter()
        .map(|row| printable(&row.student).chars().count())
        .max()
        .unwrap_or(0)
        .max("student".len());
    writeln!(
        out,
        "{:width$}  {:8}  {:6}  {:>4}  file",
        "student", "lesson", "status", "xp"
    )?;
    for row in rows {
        let status = if row.held {
            "held"
        } else {
            status_word(row.status)
        };
        writeln!(
            out,
            "{:width$}  {:8}  {:6}  {:>4}  {}",
            printable(&row.student),
            printable(&row.lesson),
            status,
            row.xp,
            printable(&row.file)
        )?;
        if let Some(message) = &row.message {
            writeln!(out, "{:width$}  {}", "", printable(message))?;
        }
    }
    writeln!(
        out,
        "\n{} students, {} rows: {} passed, {} failed, {} errors; {} flagged as copies or same store ({} held)",
        totals.students,
        rows.len(),
        totals.passed,
        totals.failed,
        totals.errors,
        totals.flagged,
        totals.held
    )?;
    writeln!(out, "XP earned: {}", totals.xp_earned)
}
