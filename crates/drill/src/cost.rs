//! What a store's start cost, and what a start that never reached `READY`
//! was doing: the likely defects the drill can tell apart from the store's
//! stderr and `/proc`.
//!
//! A store that printed nothing at all is most likely holding its `READY`
//! in a buffer; one that wrote to stderr began its work and is still at it
//! (a loop that does not advance, a huge allocation); one that died saying
//! it had no memory left allocated what a damaged length field claims.
//! A failure quotes the end of the store's stderr ([`stderr_excerpt`]).

use std::time::Duration;

/// How many of the store's last stderr lines a failure quotes.
pub const STDERR_TAIL: usize = 8;

/// Why a store printed nothing on stdout at all.
pub const FLUSH_EACH_LINE: &str =
    "every reply must be flushed at once (a pipe is block-buffered: flush stdout after each line)";

/// Why a store that wrote to stderr printed no `READY` in time.
pub fn still_recovering(timeout: Duration) -> String {
    format!(
        "the store was still recovering after {} s: its stderr shows it started, but it printed no READY (the drill's logs are a few hundred bytes: recovery should take well under a second, even with several starts at once). Look for a loop that does not advance, or an allocation of what a damaged length field claims before checking that the file holds that many bytes",
        timeout.as_secs()
    )
}

/// Why a store that died out of memory did.
pub const OUT_OF_MEMORY: &str = "the store ran out of memory (under the drill's memory limit, \
     --limit-memory, 1024 MiB by default) on a log of a few hundred bytes: it allocates what a damaged length field \
     claims before checking that the bytes exist. Check a record's length against the bytes \
     left in the file (and a sane maximum) before allocating or reading that many";

/// What each runtime prints when an allocation fails: C++, Python, Rust,
/// Java, Go, Node, and C's `malloc` checked by hand.
const OUT_OF_MEMORY_SIGNS: [&str; 8] = [
    "std::bad_alloc",
    "MemoryError",
    "memory allocation of ",
    "java.lang.OutOfMemoryError",
    "fatal error: runtime: out of memory",
    "JavaScript heap out of memory",
    "Cannot allocate memory",
    "out of memory",
];

/// Whether the store's stderr says an allocation failed.
pub fn ran_out_of_memory(stderr: &[String]) -> bool {
    stderr
        .iter()
        .any(|line| OUT_OF_MEMORY_SIGNS.iter().any(|sign| line.contains(sign)))
}

/// The process's peak private writable memory so far (`VmPeak` would count
/// address ranges a runtime merely reserves; the limit is on data), from
/// `/proc/PID/status`: `VmData` now, which at `READY` is what recovery
/// left allocated, and `VmHWM` its peak resident size; the larger of the
/// two, in bytes. `None` where `/proc` does not say.
pub fn memory_in_use(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    field("VmData:").max(field("VmHWM:"))
}

/// The part of a store's stderr a failure quotes: a Rust panic's message
/// (not the backtrace after it, which `RUST_BACKTRACE` may add), else the
/// last lines, where a traceback ends with its exception.
pub fn stderr_excerpt(lines: &[String]) -> Vec<&str> {
    if let Some(panic) = lines.iter().position(|line| line.contains("panicked at")) {
        return lines[panic..]
            .iter()
            .take(3)
            .take_while(|line| !line.starts_with("stack backtrace:"))
            .map(String::as_str)
            .collect();
    }
    let start = lines.len().saturating_sub(STDERR_TAIL);
    lines[start..].iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_failures_are_recognised() {
        for line in [
            "terminate called after throwing an instance of 'std::bad_alloc'",
            "MemoryError",
            "memory allocation of 4294967296 bytes failed",
        ] {
            assert!(ran_out_of_memory(&[line.to_string()]), "{line}");
        }
        assert!(!ran_out_of_memory(&[
            "skipping corrupt record at offset 54".to_string()
        ]));
    }

    #[test]
    fn this_process_has_memory_in_use() {
        let used = memory_in_use(std::process::id());
        if cfg!(target_os = "linux") {
            assert!(used.is_some_and(|bytes| bytes > 1 << 20), "{used:?}");
        }
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_panic_is_quoted_without_its_backtrace() {
        let stderr = lines(
            "starting\nthread 'main' panicked at src/main.rs:94:9:\nnot yet implemented: w09-l07: replay\nstack backtrace:\n   0: frame",
        );
        assert_eq!(
            stderr_excerpt(&stderr),
            [
                "thread 'main' panicked at src/main.rs:94:9:",
                "not yet implemented: w09-l07: replay"
            ]
        );
    }

    #[test]
    fn otherwise_the_last_lines_are_quoted() {
        let stderr: Vec<String> = (0..20).map(|n| format!("line {n}")).collect();
        let excerpt = stderr_excerpt(&stderr);
        assert_eq!(excerpt.len(), STDERR_TAIL);
        assert_eq!(excerpt.last(), Some(&"line 19"));
    }
}
