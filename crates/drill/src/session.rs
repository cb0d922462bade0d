//! The steps every drill takes with a store: start it, talk to it, show
//! what it said, and check what it answered.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;

use store_protocol::Request;

use crate::check::{Error, Result, expect_because};
use crate::process::Running;
use crate::steps::Steps;
use crate::store::Store;

/// A key and what a `GET` of it should answer (`None`: `NOT_FOUND`).
pub type State = BTreeMap<String, Option<String>>;

/// Prints the lines that name the store under test, under the title.
pub fn describe_store(steps: &mut Steps<'_>, store: &Store) -> Result<()> {
    for line in store.describe() {
        steps.title(line)?;
    }
    Ok(())
}

/// Starts `store` on `dir` and prints the step `text`, then the store's
/// `READY` text and what it said on stderr while recovering.
pub fn start(
    steps: &mut Steps<'_>,
    store: &Store,
    dir: &Path,
    text: impl Display,
) -> Result<Running> {
    let mut running = Running::start(store, dir)?;
    steps.step(format_args!("{text}"))?;
    // What confined the store, once, under the first step (the lines above
    // it are the title and the lines naming the store, which graders read).
    if steps.number() == 1 {
        steps.note(crate::confine::describe(store.confinement()))?;
    }
    show_ready(steps, &mut running)?;
    // The programs that answered, named once, inside the receipt: a wrapper
    // that runs the reference store is named as the reference store.
    if steps.number() == 1 {
        for line in crate::served::lines(running.pid()) {
            steps.note(line.trim_start())?;
        }
    }
    Ok(running)
}

/// Prints `READY ...` and the stderr lines so far under the current step.
pub fn show_ready(steps: &mut Steps<'_>, running: &mut Running) -> Result<()> {
    steps.note(
        format_args!("store: READY {}", crate::escape::shown(&running.ready))
            .to_string()
            .trim_end(),
    )?;
    show_stderr(steps, &running.new_stderr())
}

/// Prints a store's stderr lines under the current step, each marked as
/// the store's own words.
pub fn show_stderr(steps: &mut Steps<'_>, lines: &[String]) -> Result<()> {
    for line in lines {
        steps.note(format_args!("store stderr: {}", crate::escape::shown(line)))?;
    }
    Ok(())
}

/// The request `PUT key value`.
pub fn put(key: &str, value: &str) -> Request {
    Request::Put {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// The request `DEL key`.
pub fn del(key: &str) -> Request {
    Request::Del {
        key: key.to_string(),
    }
}

/// The request `WALPUT key value`.
pub fn walput(key: &str, value: &str) -> Request {
    Request::WalPut {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// How a `GET` answer reads: `VALUE v` or `NOT_FOUND`.
pub fn answer(value: Option<&str>) -> String {
    value.map_or_else(
        || "NOT_FOUND".to_string(),
        |value| format!("VALUE {}", crate::escape::shown(value)),
    )
}

/// `GET key` must answer `expected`; `when` completes the check's name and
/// `why` names the likely defect if it does not.
pub fn expect_get(
    steps: &mut Steps<'_>,
    running: &mut Running,
    key: &str,
    expected: Option<&str>,
    when: &str,
    why: &str,
) -> Result<()> {
    let found = running.get(key)?;
    let checked = expect_because(
        &format!("GET {key} {when}"),
        found.as_deref() == expected,
        answer(expected),
        answer(found.as_deref()),
        why,
    );
    if checked.is_err() {
        show_rest_of_stderr(steps, running)?;
    }
    checked
}

/// Before a failed check's verdict: stops the store and shows what it said
/// on stderr that was not shown yet. Its stderr and stdout are two pipes, so
/// lines written just before a reply can reach us after it; once the
/// process is gone, every line is in.
pub fn show_rest_of_stderr(steps: &mut Steps<'_>, running: &mut Running) -> Result<()> {
    let rest = running.stop_and_take_stderr();
    show_stderr(steps, &rest)
}

/// `GET` of every key of `expected`: what the store answered, in the same
/// shape.
pub fn read_state(running: &mut Running, expected: &State) -> Result<State> {
    expected
        .keys()
        .map(|key| Ok((key.clone(), running.get(key)?)))
        .collect()
}

/// `{user:1=alicia, user:2=NOT_FOUND}`.
pub fn show_state(state: &State) -> String {
    let pairs: Vec<String> = state
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{key}={}", crate::escape::shown(value)),
            None => format!("{key}=NOT_FOUND"),
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// A check error for a state that differs from `expected`, naming the
/// first key that differs.
pub fn state_differs(what: &str, expected: &State, found: &State, why: &str) -> Error {
    let first = expected
        .iter()
        .find(|(key, value)| found.get(*key) != Some(*value))
        .map(|(key, value)| {
            let got = found.get(key).cloned().flatten();
            format!(
                " (first difference: GET {key} answered {}, expected {})",
                answer(got.as_deref()),
                answer(value.as_deref())
            )
        })
        .unwrap_or_default();
    Error::Check {
        what: what.to_string(),
        expected: show_state(expected),
        found: format!("{}{first}", show_state(found)),
        why: Some(why.to_string()),
    }
}
