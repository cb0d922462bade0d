//! A source file's code fingerprint: its SHA-256 without comments and
//! without any blank space, so that a copy of a course store whose only
//! changes are comments, blank lines or indentation is still recognised.
//!
//! The drills print it under the SHA-256 of each source file a `--store`
//! command names (see [`crate::tested`]); graders compare it with the
//! fingerprints of the stores the course ships. It is no parser: comments
//! are found by a small scanner that knows string and character literals
//! (so a `#` inside a Python string, or `//` inside a C string, stays code),
//! which is enough for two texts that differ only in comments and space to
//! scan alike.

use sha2::{Digest, Sha256};

/// Files larger than this get no fingerprint: no course store is that big.
pub const MAX_SOURCE: u64 = 1024 * 1024;

/// The comment syntax of a source file, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// `#` to the end of the line; `'`, `"` and triple-quoted strings.
    Hash,
    /// `//` to the end of the line and `/* */`; `"` strings, `'` characters.
    Slash,
}

fn syntax(path: &str) -> Option<Syntax> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match extension.as_str() {
        "py" | "rb" | "sh" => Some(Syntax::Hash),
        "rs" | "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "go" | "java" | "js" | "mjs" | "ts"
        | "kt" | "cs" | "swift" | "zig" => Some(Syntax::Slash),
        _ => None,
    }
}

/// The code fingerprint of the source file at `path` (named for its
/// extension) holding `bytes`: hex SHA-256 of its text without comments and
/// blank space. `None` for a file that is not source code this knows, not
/// UTF-8, or over [`MAX_SOURCE`].
pub fn code_fingerprint(path: &str, bytes: &[u8]) -> Option<String> {
    let syntax = syntax(path)?;
    if bytes.len() as u64 > MAX_SOURCE {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let code = strip(text, syntax);
    Some(
        Sha256::digest(code.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    )
}

/// `text` without comments and without any white space.
fn strip(text: &str, syntax: Syntax) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut at = 0;
    let starts = |at: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(i, c)| chars.get(at + i) == Some(&c))
    };
    while at < chars.len() {
        let c = chars[at];
        match syntax {
            Syntax::Hash if c == '#' => {
                while at < chars.len() && chars[at] != '\n' {
                    at += 1;
                }
                continue;
            }
            Syntax::Hash if starts(at, "\"\"\"") || starts(at, "'''") => {
                let quote: String = chars[at..at + 3].iter().collect();
                let end = (at + 3..chars.len())
                    .find(|&i| starts(i, &quote))
                    .map_or(chars.len(), |i| i + 3);
                code.extend(&chars[at..end]);
                at = end;
                continue;
            }
            Syntax::Slash if starts(at, "//") => {
                while at < chars.len() && chars[at] != '\n' {
                    at += 1;
                }
                continue;
            }
            Syntax::Slash if starts(at, "/*") => {
                at = (at + 2..chars.len())
                    .find(|&i| starts(i, "*/"))
                    .map_or(chars.len(), |i| i + 2);
                continue;
            }
            Syntax::Slash if c == '\'' => {
                // A character literal ('a', '\n', '"'), else a Rust lifetime.
                let end = if chars.get(at + 1) == Some(&'\\') {
                    (at + 3..chars.len().min(at + 12)).find(|&i| chars[i] == '\'')
                } else {
                    Some(at + 2).filter(|&i| chars.get(i) == Some(&'\''))
                };
                let end = end.map_or(at + 1, |i| i + 1);
                code.extend(&chars[at..end]);
                at = end;
                continue;
            }
            _ => {}
        }
        if c == '"' || (syntax == Syntax::Hash && c == '\'') {
            let mut end = at + 1;
            while end < chars.len() && chars[end] != c && chars[end] != '\n' {
                end += if chars[end] == '\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(chars.len());
            code.extend(&chars[at..end]);
            at = end;
            continue;
        }
        if !c.is_whitespace() {
            code.push(c);
        }
        at += 1;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_space_do_not_count_code_and_strings_do() {
        let python =
            "import os\n\ndef f(x):\n    return x + 1  # one more\n\nS = \"# not a comment\"\n";
        let same = [
            "import os\ndef f(x):\n  return x+1\nS = \"# not a comment\"\n",
            "# my own store!\nimport os\n\n\ndef f(x):   # mine\n    return x + 1\nS = \"# not a comment\"  # yes\n",
        ];
        let other = [
            "import os\n\ndef f(x):\n    return x + 2\n\nS = \"# not a comment\"\n",
            "import os\n\ndef f(x):\n    return x + 1\n\nS = \"# not a comment, changed\"\n",
        ];
        let print = |text: &str| code_fingerprint("store.py", text.as_bytes()).unwrap();
        for text in same {
            assert_eq!(print(text), print(python), "{text}");
        }
        for text in other {
            assert_ne!(print(text), print(python), "{text}");
        }

        let rust =
            "fn main() {\n    let c = '\"'; // a quote\n    /* block */ println!(\"// {c}\");\n}\n";
        let rust_same = "fn main(){let c='\"';\n/* other */println!(\"// {c}\"); // yes\n}";
        let rust_other = "fn main() {\n    let c = '\"';\n    println!(\"// {c}!\");\n}\n";
        let print = |text: &str| code_fingerprint("main.rs", text.as_bytes()).unwrap();
        assert_eq!(print(rust_same), print(rust));
        assert_ne!(print(rust_other), print(rust));
        // A lifetime is no character literal.
        assert_eq!(
            print("fn f<'a>(x: &'a str) -> &'a str { x } // c"),
            print("fn f<'a>(x:&'a str)->&'a str{x}")
        );
        assert_eq!(code_fingerprint("store.bin", b"x"), None);
        assert_eq!(code_fingerprint("store.py", &[0xff, 0xfe]), None);
    }
}
