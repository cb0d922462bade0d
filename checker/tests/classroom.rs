//! `examples/classroom/`: the GitHub Actions workflow a course puts in its
//! template repository, played here step by step on a sample student
//! repository, as a runner would, except for what needs GitHub: the two
//! checkouts are a copy and a link, the grader steps run their `command`
//! with the environment the command grader gives it, and the reporter and
//! the artifact upload are checked by what they would read.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::real::{build, python, root};
use common::write;
use serde_json::Value;

/// `text` with every `${{ env.NAME }}` and `${{ runner.temp }}` replaced.
fn expand(text: &str, env: &HashMap<String, String>, temp: &Path) -> String {
    let mut out = text.replace("${{ runner.temp }}", &temp.display().to_string());
    for (name, value) in env {
        out = out.replace(&format!("${{{{ env.{name} }}}}"), value);
    }
    assert!(!out.contains("${{ env."), "an unknown variable in {out}");
    out
}

/// Play the workflow on `repository`; the points of each grader step.
fn play(workflow: &Value, repository: &Path) -> Vec<(String, u64, bool)> {
    let temp = tempfile::tempdir().unwrap();
    let github_env = temp.path().join("github_env");
    fs::write(&github_env, "").unwrap();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-drills");
    let mut env: HashMap<String, String> = HashMap::new();
    for (name, value) in workflow["env"].as_object().unwrap() {
        env.insert(name.clone(), value.as_str().unwrap().to_owned());
    }
    let steps = workflow["jobs"]["drills"]["steps"].as_array().unwrap();
    let mut graded = Vec::new();
    for step in steps {
        let name = step["name"].as_str().unwrap();
        if let Some(script) = step["run"].as_str() {
            let status = Command::new("bash")
                .args(["-e", "-c", &expand(script, &env, temp.path())])
                .current_dir(repository)
                .env("GITHUB_ENV", &github_env)
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .unwrap();
            assert!(status.success(), "step {name} failed");
            for line in fs::read_to_string(&github_env).unwrap().lines() {
                let (key, value) = line.split_once('=').unwrap();
                env.insert(key.to_owned(), value.to_owned());
            }
            continue;
        }
        let uses = step["uses"].as_str().unwrap();
        let with = &step["with"];
        match uses.split('@').next().unwrap() {
            "actions/checkout" => {
                // The student's repository is where we stand; the course's
                // is this workspace.
                if let Some(path) = with["path"].as_str() {
                    std::os::unix::fs::symlink(root(), repository.join(path)).unwrap();
                }
            }
            "classroom-resources/autograding-command-grader" => {
                let command = expand(with["command"].as_str().unwrap(), &env, temp.path());
                // The grader gives the command PATH and HOME only; the
                // test adds the target folder this test run builds in.
                let status = Command::new("bash")
                    .args(["-c", &command])
                    .current_dir(repository)
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap())
                    .env("HOME", std::env::var("HOME").unwrap_or_default())
                    .env("CARGO_TARGET_DIR", &target)
                    .status()
                    .unwrap();
                let points = with["max-score"].as_u64().unwrap();
                let id = step["id"].as_str().unwrap().to_owned();
                graded.push((id, points, status.success()));
            }
            "classroom-resources/autograding-grading-reporter" => {
                let runners: Vec<&str> = with["runners"].as_str().unwrap().split(',').collect();
                let ids: Vec<&str> = graded.iter().map(|(id, ..)| id.as_str()).collect();
                assert_eq!(runners, ids, "the reporter reads every grader step");
                for id in ids {
                    let variable = format!("{}_RESULTS", id.to_uppercase());
                    assert_eq!(
                        step["env"][&variable].as_str(),
                        Some(&*format!("${{{{ steps.{id}.outputs.result }}}}")),
                        "{variable}"
                    );
                }
            }
            "actions/upload-artifact" => {
                let path = repository.join(with["path"].as_str().unwrap());
                for (id, ..) in &graded {
                    let transcript = fs::read_to_string(path.join(format!("{id}.txt"))).unwrap();
                    assert!(transcript.contains("receipt: "), "{transcript}");
                }
            }
            other => panic!("a step this test cannot play: {other}"),
        }
    }
    graded
}

#[test]
#[cfg(unix)]
fn the_workflow_grades_a_sample_repository() {
    let Some(python) = python() else { return };
    build();
    let text =
        fs::read_to_string(root().join("examples/classroom/.github/workflows/crash-drills.yml"))
            .unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).unwrap();
    // Each lesson's points are its XP.
    for id in ["w09-l07", "w09-l08"] {
        let lesson =
            lesson::Lesson::load(root().join("lessons").join(id).join("lesson.md")).unwrap();
        let step = workflow["jobs"]["drills"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["id"] == id)
            .unwrap();
        assert_eq!(
            step["with"]["max-score"].as_u64(),
            Some(u64::from(lesson.frontmatter.xp))
        );
    }

    let model = fs::read_to_string(root().join("examples/stores/python/kvstore.py")).unwrap();
    let good = tempfile::tempdir().unwrap();
    write(
        &good.path().join("store.py"),
        model.replacen("READY replayed", "READY (mine) replayed", 1),
    );
    write(
        &good.path().join("store.toml"),
        format!("run = \"{python} store.py\"\n"),
    );
    let points = play(&workflow, good.path());
    assert_eq!(
        points,
        [
            ("w09-l07".to_owned(), 75, true),
            ("w09-l08".to_owned(), 75, true)
        ]
    );

    // A store that replays without applying earns nothing (and fails fast).
    let broken = tempfile::tempdir().unwrap();
    let forgetful = model.replacen(
        "            self.apply(op, key, value)\n            self.next_lsn = lsn + 1",
        "            self.next_lsn = lsn + 1",
        1,
    );
    assert_ne!(forgetful, model);
    write(&broken.path().join("store.py"), forgetful);
    write(
        &broken.path().join("store.toml"),
        format!("run = \"{python} store.py\"\n"),
    );
    let points = play(&workflow, broken.path());
    assert_eq!(
        points,
        [
            ("w09-l07".to_owned(), 75, false),
            ("w09-l08".to_owned(), 75, false)
        ]
    );
}
