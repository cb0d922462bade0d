//! `--help`: every subcommand has a description paragraph and examples.

use predicates::prelude::*;

use crate::support::wal;

#[test]
fn every_subcommand_has_a_description_and_examples() {
    for subcommand in [
        "put", "delete", "get", "dump", "verify", "repair", "load", "bench",
    ] {
        let output = wal().args([subcommand, "--help"]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{subcommand}");
        let help = String::from_utf8(output.stdout).unwrap();
        let paragraph = help.split("\n\n").nth(1).unwrap_or_default();
        assert!(
            paragraph.split_whitespace().count() >= 15,
            "{subcommand}: no description paragraph:\n{help}"
        );
        assert!(help.contains("Examples:\n  wal "), "{subcommand}:\n{help}");
    }
}

#[test]
fn top_level_help_lists_subcommands_and_exit_codes() {
    wal().arg("--help").assert().success().stdout(
        predicate::str::contains("repair")
            .and(predicate::str::contains("Exit codes:"))
            .and(predicate::str::contains(
                "3  damage followed by readable records",
            )),
    );
}
