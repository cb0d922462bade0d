//! `wal`: the command-line tool for the `wal` crate's write-ahead logs.
//!
//! One module per subcommand under `commands/`; `cli` holds the clap
//! definitions and help texts, `exit` the exit codes, `json` the schema of
//! `wal dump --json`. Errors travel as `anyhow::Error`s and are printed here,
//! once, on stderr; every message names the file it concerns.

mod bench;
mod cli;
mod commands;
mod exit;
mod json;
mod layout;
mod stderr;
mod text;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::{checkpoint, delete, dump, get, load, put, repair, serve, verify};
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Put(args) => put::run(args),
        Command::Delete(args) => delete::run(args),
        Command::Get(args) => get::run(args),
        Command::Dump(args) => dump::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Repair(args) => repair::run(args),
        Command::Checkpoint(args) => checkpoint::run(args),
        Command::Load(args) => load::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args).map(|()| Exit::Success),
    };
    match result {
        Ok(exit) => exit.into(),
        // The reader of our output went away (`wal dump | head`): it has
        // what it wanted.
        Err(err) if exit::is_broken_pipe(&err) => Exit::Success.into(),
        Err(err) => {
            crate::stderr::note(format_args!("wal: error: {err}"));
            Exit::for_error(&err).into()
        }
    }
}
