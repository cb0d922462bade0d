//! The lines of a drill transcript that name the store it tested.
//!
//! Under its title, a drill prints what it tested:
//!
//! ```text
//! store under test: python3 my_store.py DIR
//!   sha256 b3d01ab2…(64 hex digits)  my_store.py
//! ```
//!
//! or `store under test: the reference store (...)` ([`REFERENCE_STORE`])
//! when run without `--store`. The drills print these lines with the
//! functions here and graders read them back with [`TestedStore::find`], so
//! the two sides cannot drift apart. Graders read them only inside a
//! receipt-verified transcript (see [`crate::receipt`]): the receipt's digest
//! covers them, so an edited store line fails as edited rather than fooling
//! the grader.

use std::sync::LazyLock;

use regex::Regex;

/// The prefix of the line naming the store under test.
pub const STORE_PREFIX: &str = "store under test: ";

/// What the store line says when a drill ran without `--store`.
pub const REFERENCE_STORE: &str = "the reference store (wal::KvStore, as `wal serve DIR`)";

/// The line naming the store under test, `command` as the drill shows it.
pub fn store_line(command: &str) -> String {
    format!("{STORE_PREFIX}{command}")
}

/// The line giving the SHA-256 (`sha256`, in hex) of a file the store's
/// command names.
pub fn file_line(sha256: &str, path: &str) -> String {
    format!("  sha256 {sha256}  {path}")
}

static FILE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^  sha256 (?P<sha256>[0-9a-f]{64})  (?P<path>.+?)\s*$")
        .expect("the file line pattern is valid")
});

/// The line under a file line giving the file's code fingerprint (see
/// [`crate::fingerprint`]): its SHA-256 without comments and blank space.
pub fn code_line(fingerprint: &str) -> String {
    format!("    code {fingerprint} (without comments and blank space)")
}

static CODE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^    code (?P<code>[0-9a-f]{64}) \(without comments and blank space\)\s*$")
        .expect("the code line pattern is valid")
});

/// The prefix of the line naming a program that served the protocol: the
/// executable of the store's process, or of a process it started.
pub const SERVED_BY_PREFIX: &str = "      served by: ";

/// What a served-by line says of a program that holds the reference store.
pub const REFERENCE_PROGRAM: &str = "the reference store";

/// The line naming a program (`exe`, a path) that served the protocol;
/// `reference` when the program holds the reference store (a wrapper that
/// execs `wal serve` or a drill's `--serve`).
pub fn served_by_line(exe: &str, reference: bool) -> String {
    if reference {
        format!("{SERVED_BY_PREFIX}{REFERENCE_PROGRAM} ({exe})")
    } else {
        format!("{SERVED_BY_PREFIX}{exe}")
    }
}

/// The prefix of the line naming a file that a process of the store was
/// given on its command line (a script, a module): what an interpreter or
/// a wrapper really ran.
pub const RAN_FILE_PREFIX: &str = "      ran file: ";

/// The line naming a file a process of the store ran (`sha256` of its
/// bytes, and its code fingerprint when it is source code).
pub fn ran_file_line(sha256: &str, code: Option<&str>, path: &str) -> String {
    match code {
        Some(code) => format!("{RAN_FILE_PREFIX}sha256 {sha256} code {code}  {path}"),
        None => format!("{RAN_FILE_PREFIX}sha256 {sha256}  {path}"),
    }
}

static RAN_FILE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^      ran file: sha256 (?P<sha256>[0-9a-f]{64})(?: code (?P<code>[0-9a-f]{64}))?  (?P<path>.+?)\s*$",
    )
    .expect("the ran file line pattern is valid")
});

/// Whether `line` is one of the lines naming the store (the store line, a
/// file line or its code line): they sit between a drill's title and its
/// first step.
pub fn names_the_store(line: &str) -> bool {
    line.starts_with(STORE_PREFIX) || FILE_LINE.is_match(line) || CODE_LINE.is_match(line)
}

/// A file named by the store's command, with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedFile {
    /// The transcript line, counting from 1 in the paste.
    pub line: usize,
    /// SHA-256 of the file when the drill ran, in lowercase hex.
    pub sha256: String,
    /// The path as the drill printed it.
    pub path: String,
    /// The file's code fingerprint, when the drill printed one.
    pub code: Option<String>,
}

/// A program that served the protocol, as the drill saw it run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedBy {
    /// The line, counting from 1 in the paste.
    pub line: usize,
    /// The line's text after [`SERVED_BY_PREFIX`].
    pub text: String,
    /// Whether the program holds the reference store.
    pub reference: bool,
}

/// The store a drill transcript says it tested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestedStore {
    /// The store line, counting from 1 in the paste.
    pub line: usize,
    /// The command, as the store line shows it (DIR standing for the
    /// directory), or [`REFERENCE_STORE`].
    pub command: String,
    /// The files the command names, in the order printed.
    pub files: Vec<HashedFile>,
    /// The programs the drill saw serve the protocol.
    pub served_by: Vec<ServedBy>,
}

impl TestedStore {
    /// The store named in `transcript`, the lines of one drill run whose
    /// first line is line `first_line` (from 1) of the paste: its store line
    /// (the first line starting with [`STORE_PREFIX`]) and the file lines
    /// right under it. `None` for a transcript without a store line.
    pub fn find(transcript: &[&str], first_line: usize) -> Option<Self> {
        let at = transcript
            .iter()
            .position(|line| line.starts_with(STORE_PREFIX))?;
        let mut files: Vec<HashedFile> = Vec::new();
        for (offset, line) in transcript[at + 1..].iter().enumerate() {
            if let Some(fields) = FILE_LINE.captures(line) {
                files.push(HashedFile {
                    line: first_line + at + 1 + offset,
                    sha256: fields["sha256"].to_owned(),
                    path: fields["path"].to_owned(),
                    code: None,
                });
            } else if let (Some(fields), Some(file)) = (CODE_LINE.captures(line), files.last_mut())
            {
                file.code = Some(fields["code"].to_owned());
            } else {
                break;
            }
        }
        // Files the store's processes ran count as files of the store.
        for (offset, line) in transcript.iter().enumerate() {
            if let Some(fields) = RAN_FILE_LINE.captures(line) {
                files.push(HashedFile {
                    line: first_line + offset,
                    sha256: fields["sha256"].to_owned(),
                    path: fields["path"].to_owned(),
                    code: fields.name("code").map(|code| code.as_str().to_owned()),
                });
            }
        }
        let served_by = transcript
            .iter()
            .enumerate()
            .filter_map(|(offset, line)| {
                let text = line.strip_prefix(SERVED_BY_PREFIX)?.trim_end();
                Some(ServedBy {
                    line: first_line + offset,
                    text: text.to_owned(),
                    reference: text.starts_with(REFERENCE_PROGRAM),
                })
            })
            .collect();
        Some(Self {
            line: first_line + at,
            command: transcript[at][STORE_PREFIX.len()..].trim_end().to_owned(),
            files,
            served_by,
        })
    }

    /// Whether the drill tested the reference store rather than a
    /// `--store` command.
    pub fn is_reference(&self) -> bool {
        self.command == REFERENCE_STORE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_printed_are_the_lines_read() {
        let hash = "b3".repeat(32);
        let store = store_line("python3 my_store.py DIR");
        let file = file_line(&hash, "my store.py");
        let transcript = ["Crash drill 1", &store, &file, "[1/7] started"];
        assert!(names_the_store(&store) && names_the_store(&file));
        assert!(!names_the_store(transcript[3]));
        let found = TestedStore::find(&transcript, 10).unwrap();
        assert_eq!(found.line, 11);
        assert_eq!(found.command, "python3 my_store.py DIR");
        assert!(!found.is_reference());
        assert_eq!(
            found.files,
            [HashedFile {
                line: 12,
                sha256: hash,
                path: "my store.py".into(),
                code: None,
            }]
        );
        let reference = store_line(REFERENCE_STORE);
        let found = TestedStore::find(&["title", &reference], 1).unwrap();
        assert!(found.is_reference() && found.files.is_empty());
        assert_eq!(TestedStore::find(&["title", "[1/7] x"], 1), None);
    }

    #[test]
    fn code_and_served_by_lines_are_read_back() {
        let hash = "b3".repeat(32);
        let code = "c4".repeat(32);
        let (store, file, code_text) = (
            store_line("./wrapper.sh DIR"),
            file_line(&hash, "wrapper.sh"),
            code_line(&code),
        );
        let served = served_by_line("/work/target/debug/test_crash_after_wal", true);
        let ran = ran_file_line(&hash, Some(&code), "/home/s/kvstore.py");
        let other = served_by_line("/usr/bin/python3.11", false);
        let transcript = [
            "title",
            &store,
            &file,
            &code_text,
            "[1/7] started",
            "      store: READY",
            &served,
            &other,
            &ran,
        ];
        assert!(names_the_store(&code_text));
        let found = TestedStore::find(&transcript, 1).unwrap();
        assert_eq!(found.files[0].code.as_deref(), Some(code.as_str()));
        assert_eq!(found.served_by.len(), 2);
        assert_eq!(found.served_by[0].line, 7);
        assert!(found.served_by[0].reference && !found.served_by[1].reference);
        assert_eq!(found.served_by[1].text, "/usr/bin/python3.11");
        assert_eq!(found.files.len(), 2);
        assert_eq!(found.files[1].path, "/home/s/kvstore.py");
        assert_eq!(found.files[1].line, 9);
        assert_eq!(found.files[1].code.as_deref(), Some(code.as_str()));
    }
}
