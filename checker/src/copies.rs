//! Copies: submissions that share a paste, a drill run or a store.
//!
//! Two submissions of different students are copies when they are identical after normalising
//! whitespace and line ends, or carry a receipt line with the same run id,
//! verified or not (an edited copy keeps the run id of the run it copies).
//! Two students whose drill transcripts name the same store files (the same
//! SHA-256 of every file the `--store` command names, the interpreter left
//! out) are flagged as having the same store (`same_store_as`): neither
//! wrote it alone. Flags, not failures: the instructor decides.
//!
//! Only digests are kept, never the pastes, and each list names at most
//! [`MAX_LISTED`] others, so a class of 10,000 identical pastes costs
//! 10,000 short lists, not 10,000² names.

use std::collections::HashMap;

use lesson::{ProofReport, TestedStore, Transcript};
use sha2::{Digest, Sha256};

use crate::outcome::{Finished, Status};

/// The most submissions one result's `copy_of` or `same_store_as` names;
/// `copies` and `same_store_count` give the full count.
pub const MAX_LISTED: usize = 10;

/// Submissions grouped by what makes them copies of each other.
#[derive(Default)]
pub struct Copies {
    /// Digest of the whitespace-normalised text → the submissions with it.
    texts: HashMap<[u8; 32], Vec<usize>>,
    /// Receipt run id → the submissions carrying it.
    runs: HashMap<String, Vec<usize>>,
    /// Store fingerprint → the submissions whose transcript tested it.
    stores: HashMap<String, Vec<usize>>,
    /// Each submission's student.
    students: HashMap<usize, String>,
}

impl Copies {
    /// Remember submission `index` of `student`, its normalised `text` and
    /// the run ids its `report` found.
    pub fn add(&mut self, index: usize, student: String, text: &str, report: &ProofReport) {
        self.students.insert(index, student);
        let mut hasher = Sha256::new();
        let mut words = 0;
        for word in text.split_whitespace() {
            if words > 0 {
                hasher.update(b" ");
            }
            hasher.update(word.as_bytes());
            words += 1;
        }
        if words > 0 {
            self.texts
                .entry(hasher.finalize().into())
                .or_default()
                .push(index);
        }
        for run in &report.run_ids {
            let holders = self.runs.entry(run.clone()).or_default();
            if !holders.contains(&index) {
                holders.push(index);
            }
        }
    }

    /// Remember the store that submission `index`'s deciding transcript
    /// tested.
    pub fn store(&mut self, index: usize, transcript: Option<&Transcript>) {
        if let Some(fingerprint) = transcript
            .and_then(|t| t.store.as_ref())
            .and_then(fingerprint)
        {
            self.stores.entry(fingerprint).or_default().push(index);
        }
    }

    /// Fill every graded result's copy flags. Each group is counted once,
    /// and each result names the first few of its groups' other members, so
    /// the work is linear in the class however large a group is.
    pub fn mark(self, results: &mut [Finished]) {
        let sources: Vec<String> = results.iter().map(|f| f.result.source.clone()).collect();
        let no_student = String::new();
        let student = |index: usize| self.students.get(&index).unwrap_or(&no_student);
        let copy_groups = groups_of(results.len(), self.texts.values().chain(self.runs.values()));
        let store_groups = groups_of(results.len(), self.stores.values());
        // Per store group, how many of its members each student has.
        let per_student: HashMap<*const Vec<usize>, HashMap<&String, usize>> = self
            .stores
            .values()
            .map(|group| {
                let mut counts: HashMap<&String, usize> = HashMap::new();
                for &member in group {
                    *counts.entry(student(member)).or_default() += 1;
                }
                (std::ptr::from_ref(group), counts)
            })
            .collect();
        for (index, finished) in results.iter_mut().enumerate() {
            if finished.result.status == Status::Error {
                continue;
            }
            // A student's own two identical files are no copy.
            let mine = student(index);
            let mut listed = Vec::new();
            let mut count = 0;
            for group in &copy_groups[index] {
                let theirs = group
                    .iter()
                    .filter(|&&other| student(other) != mine)
                    .count();
                count = count.max(theirs);
                name_others(&mut listed, group, |other| student(other) != mine);
            }
            finished.result.copy_of = listed.iter().map(|&i| sources[i].clone()).collect();
            finished.result.copies = count;

            let mut listed = Vec::new();
            let mut count = 0;
            for group in &store_groups[index] {
                let own = per_student[&std::ptr::from_ref(*group)][mine];
                let theirs = group.len() - own;
                if theirs > 0 {
                    count = count.max(theirs);
                    name_others(&mut listed, group, |other| student(other) != mine);
                }
            }
            finished.result.same_store_as = listed.iter().map(|&i| sources[i].clone()).collect();
            finished.result.same_store_count = count;
        }
    }
}

/// For each of `count` submissions, the groups of two or more it is in.
fn groups_of<'a>(
    count: usize,
    groups: impl Iterator<Item = &'a Vec<usize>>,
) -> Vec<Vec<&'a Vec<usize>>> {
    let mut member_of = vec![Vec::new(); count];
    for group in groups.filter(|group| group.len() > 1) {
        for &member in group {
            if let Some(groups) = member_of.get_mut(member) {
                groups.push(group);
            }
        }
    }
    member_of
}

/// Add to `listed` the first members of `group` that `other` accepts, up to
/// [`MAX_LISTED`] names in all, in submission order.
fn name_others(listed: &mut Vec<usize>, group: &[usize], other: impl Fn(usize) -> bool) {
    for &member in group {
        if listed.len() >= MAX_LISTED {
            break;
        }
        if other(member) && !listed.contains(&member) {
            listed.push(member);
        }
    }
    listed.sort_unstable();
}

/// What identifies a store: the SHA-256 of each file its command names,
/// sorted, without the interpreter found on the `PATH` (`python3` in
/// `python3 my_store.py`), which every student shares. `None` when nothing
/// is left.
pub fn fingerprint(store: &TestedStore) -> Option<String> {
    let program = store.command.split_whitespace().next().unwrap_or_default();
    let looked_up = !program.contains('/');
    let mut hashes: Vec<&str> = store
        .files
        .iter()
        .filter(|file| {
            let name = file.path.rsplit('/').next().unwrap_or(&file.path);
            !(looked_up && name == program)
        })
        .map(|file| file.sha256.as_str())
        .collect();
    if hashes.is_empty() {
        return None;
    }
    hashes.sort_unstable();
    Some(hashes.join(" "))
}
