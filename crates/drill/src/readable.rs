//! What a confined program may read and execute besides its own
//! directory: the system's folders, the program and the files its command
//! names (within `--store-root` when one is given), and the toolchains on
//! `PATH` a build runs. The launcher ([`crate::confine`]) turns these paths
//! into Landlock rules; the power-loss check reads them to warn about a read
//! outside them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The system's folders a store may read and execute from.
pub const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix",
    "/proc", "/sys", "/dev",
];
/// The paths a store command may read and execute besides the system: the
/// program, with its folder (and the one above a `bin/` folder, where an
/// interpreter's libraries live, or above a version manager's `shims/`),
/// and each word that names an existing file, with its folder and the
/// folder above (a store's script often imports a module beside its own
/// folder), each both as given and with links resolved.
///
/// With a `root` (`--store-root`), a word outside it grants nothing, and a
/// word's folder above is granted only while it is still beneath `root`:
/// `python3 kv.py` run from a student's folder reads that folder, not the
/// class around it.
pub fn readable_paths(program: &Path, words: &[String], root: Option<&Path>) -> Vec<PathBuf> {
    let root = root.map(|root| root.canonicalize().unwrap_or_else(|_| root.to_path_buf()));
    let within = |path: &Path| root.as_ref().is_none_or(|root| path.starts_with(root));
    let mut paths = Vec::new();
    let mut add = |path: &Path, up: bool| {
        for path in [Some(path.to_path_buf()), path.canonicalize().ok()]
            .into_iter()
            .flatten()
        {
            if let Some(folder) = path.parent() {
                let above = folder.parent().filter(|above| *above != Path::new("/"));
                if let Some(above) = above
                    && up
                    && within(above)
                {
                    paths.push(above.to_path_buf());
                }
                paths.extend(installation(folder));
                paths.push(folder.to_path_buf());
            }
            paths.push(path);
        }
    };
    add(program, false);
    for word in words.iter().skip(1) {
        let path = Path::new(word);
        if !path.is_file() {
            continue;
        }
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // Resolved, so that neither `..` nor a link leads out of the root.
        if within(&path.canonicalize().unwrap_or_else(|_| path.clone())) && within(&path) {
            add(&path, true);
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// The installation a program's `folder` belongs to, beyond the folder
/// itself: above a `bin/` folder that sits beside a `lib/`, `lib64/` or
/// `libexec/` (an interpreter's prefix, where its libraries live), and
/// above a version manager's `shims/` (pyenv, asdf: the shim runs programs
/// kept there). Never a home folder or `/`: a `~/bin` or `~/.cargo/bin`
/// on `PATH` opens that folder alone, not the keys and credentials beside
/// it.
pub fn installation(folder: &Path) -> Option<PathBuf> {
    let above = folder.parent()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if above == Path::new("/") || home.as_deref() == Some(above) {
        return None;
    }
    let prefix = ["lib", "lib64", "libexec"]
        .iter()
        .any(|lib| above.join(lib).is_dir());
    let installed = match folder.file_name().and_then(OsStr::to_str) {
        Some("bin") => prefix,
        Some("shims") => true,
        _ => false,
    };
    installed.then(|| above.to_path_buf())
}

/// The toolchains on `PATH` outside the system's folders (a rustup or
/// pyenv toolchain in a home folder), for a build (`--toolchains`): each
/// such folder, its [`installation`], and rustup's toolchains
/// (`RUSTUP_HOME`, else `~/.rustup`), which `~/.cargo/bin`'s proxies run.
pub fn toolchains() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let system = SYSTEM.iter().any(|root| dir.starts_with(root));
        if system || !dir.is_dir() {
            continue;
        }
        found.extend(installation(&dir));
        found.push(dir);
    }
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".rustup")));
    found.extend(rustup.filter(|dir| dir.is_dir()));
    found.sort();
    found.dedup();
    found
}

/// Under a `root` (`--store-root`), a program named by a path (a word with
/// a `/`) that lies neither beneath the root nor in the system's folders nor
/// in a toolchain on `PATH` ([`toolchains`]), resolved: a classmate's
/// compiled store (`../bob/kvstore`), which [`readable_paths`] would
/// otherwise open to the store with its folder.
pub fn program_outside(program: &Path, words: &[String], root: Option<&Path>) -> Option<PathBuf> {
    let root = root?.canonicalize().ok()?;
    let named_by_path = words.first().is_some_and(|word| word.contains('/'));
    let resolved = program
        .canonicalize()
        .unwrap_or_else(|_| program.to_path_buf());
    let allowed = resolved.starts_with(&root)
        || SYSTEM.iter().any(|system| resolved.starts_with(system))
        || toolchains()
            .iter()
            .any(|toolchain| resolved.starts_with(toolchain));
    (named_by_path && !allowed).then_some(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_may_read_its_program_its_files_and_their_folders() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let shims = root.join("pyenv/shims");
        let scripts = root.join("course/store");
        std::fs::create_dir_all(&shims).unwrap();
        std::fs::create_dir_all(&scripts).unwrap();
        std::fs::write(shims.join("python3"), "").unwrap();
        std::fs::write(scripts.join("kv.py"), "").unwrap();
        let words = [
            "python3".to_string(),
            scripts.join("kv.py").display().to_string(),
            "--not-a-file".to_string(),
        ];
        let paths = readable_paths(&shims.join("python3"), &words, None);
        for expected in [
            root.join("pyenv"),
            shims.clone(),
            shims.join("python3"),
            root.join("course"),
            scripts.clone(),
            scripts.join("kv.py"),
        ] {
            assert!(paths.contains(&expected), "{expected:?} not in {paths:?}");
        }
        assert!(!paths.contains(&root), "{paths:?}");
        assert!(!paths.iter().any(|path| path.ends_with("--not-a-file")));
    }

    #[test]
    fn under_a_root_nothing_outside_it_becomes_readable() {
        let class = tempfile::tempdir().unwrap();
        let class = class.path().canonicalize().unwrap();
        let (alice, bob) = (class.join("alice"), class.join("bob"));
        std::fs::create_dir_all(alice.join("src")).unwrap();
        std::fs::create_dir_all(&bob).unwrap();
        for file in [
            alice.join("kv.py"),
            alice.join("src/kv.py"),
            bob.join("kv.py"),
        ] {
            std::fs::write(file, "").unwrap();
        }
        let python = Path::new("/usr/bin/python3");
        let words = |word: &Path| vec!["python3".to_string(), word.display().to_string()];
        let root = Some(alice.as_path());
        // Its own script: its folder, never the class around it.
        let own = readable_paths(python, &words(&alice.join("kv.py")), root);
        assert!(
            own.contains(&alice.join("kv.py")) && own.contains(&alice),
            "{own:?}"
        );
        assert!(!own.contains(&class), "{own:?}");
        // A script in a subfolder: the folder above is still its own.
        let nested = readable_paths(python, &words(&alice.join("src/kv.py")), root);
        assert!(nested.contains(&alice), "{nested:?}");
        // A classmate's script, named directly or through `..`: nothing.
        for word in [bob.join("kv.py"), alice.join("../bob/kv.py")] {
            let theirs = readable_paths(python, &words(&word), root);
            assert!(
                !theirs
                    .iter()
                    .any(|path| path.starts_with(&bob) || *path == class),
                "{theirs:?}"
            );
        }
        // Without a root, a named file's folder above is readable.
        let anywhere = readable_paths(python, &words(&bob.join("kv.py")), None);
        assert!(anywhere.contains(&class), "{anywhere:?}");
        // A program named by a path outside the root is refused; one found
        // on PATH, or in the system's folders, is not.
        let program = bob.join("kv.py");
        let by_path = vec![program.display().to_string()];
        assert_eq!(
            program_outside(&program, &by_path, root),
            Some(program.clone())
        );
        assert_eq!(
            program_outside(python, &words(&alice.join("kv.py")), root),
            None
        );
        let by_path = vec!["/usr/bin/python3".to_string()];
        assert_eq!(program_outside(python, &by_path, root), None);
    }
}
