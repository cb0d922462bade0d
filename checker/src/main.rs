//! The `checker` binary; everything but argument parsing lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    checker::cli::execute(checker::cli::Cli::parse())
}
