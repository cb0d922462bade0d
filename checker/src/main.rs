//! The `checker` binary; everything but argument parsing lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(error) = checker::cli::refuse_expanded_options(&arguments) {
        eprintln!("checker: error: {error}");
        return std::process::ExitCode::from(checker::cli::EXIT_UNUSABLE);
    }
    checker::cli::execute(checker::cli::Cli::parse_from(arguments))
}
