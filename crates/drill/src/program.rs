//! Which file a program name runs, as `exec` would find it.

use std::env;
use std::path::PathBuf;

/// The file a program name runs: itself when it has a slash, else the first
/// match on `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|path| path.is_file());
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
