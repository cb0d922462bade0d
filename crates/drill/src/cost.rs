//! What a store's start cost, and what a start that never reached `READY`
//! was doing: the likely defects the drill can tell apart from the store's
//! stderr and `/proc`.
//!
//! A store that printed nothing at all is most likely holding its `READY`
//! in a buffer; one that wrote to stderr began its work and is still at it
//! (a loop that does not advance, a huge allocation); one that died saying
//! it had no memory left allocated what a damaged length field claims.
//! A failure quotes the end of the store's stderr ([`stderr_excerpt`]).
//!
//! # What a start cost
//!
//! Each start's time to `READY` and its peak memory are measured
//! ([`StartCost`]). The memory is *sampled*: while the drill waits for
//! `READY` it wakes every [`SAMPLE_EVERY`] and reads, for the store's
//! process and each of its descendants (a store started through a shell
//! script runs as a grandchild; under strace, strace itself is left out),
//! `/proc/PID/status` ([`memory_in_use`]), keeping the largest figure of
//! any one process (the drill's memory limit, `RLIMIT_DATA`, is per
//! process). It samples once more just before it kills a start that timed
//! out, and once at `READY`. `VmHWM` is a high-water mark, so a peak of
//! resident memory between two samples is still seen at the next one;
//! memory reserved and never touched (`VmData`) is seen only while it is
//! held.
//!
//! A store that dies by itself is gone from `/proc` once reaped, so what is
//! known of it is its last sample. The other way, the child's resource usage
//! from `wait4` (`ru_maxrss`), is out of reach without `unsafe` (neither
//! `nix` nor the standard library returns it), would miss a store started
//! through a wrapper or under strace (it is their child, not the drill's),
//! and counts resident memory only, not the data segment the limit is on.
//! The cost of the sampling: one or two small `/proc` reads per process of
//! the store every few milliseconds, during recovery only; a store that
//! reaches its peak and dies within one interval is missed, and is then
//! told what any signal death is told.
//!
//! # What is named
//!
//! * A start killed by a signal (`SIGKILL`, `SIGSEGV` from an unchecked
//!   `malloc`, `SIGABRT`, `SIGBUS`) whose memory came [near the
//!   limit](near_limit) ran out of memory, as surely as one whose stderr
//!   says so ([`ran_out_of_memory`]): both are told [`OUT_OF_MEMORY`] with
//!   the figure ([`memory_figure`]). A signal death with little memory is
//!   not.
//! * A start that timed out after its stderr showed it started is still
//!   recovering ([`still_recovering`]), with the figure when its memory was
//!   [costly](costly_memory) or near the limit.
//! * A start that reached `READY` on a small damaged log with far more
//!   memory ([`costly_memory`]) or time ([`slow_start`]) than the same
//!   store's start on an empty directory: the drills name the case in a
//!   warning.

use std::time::Duration;

/// How often the memory of a store that has not said `READY` is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// What one start cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartCost {
    /// From the spawn to `READY`.
    pub time: Duration,
    /// The largest memory in use by one of the store's processes, sampled
    /// during recovery and at `READY` (see the module's docs).
    pub memory: Option<u64>,
}

/// A recovery that holds this many times the memory of an empty start, and
/// at least [`COSTLY_EXTRA`] more, is costly: the drill's logs are a few
/// hundred bytes, so it was not the records that took it.
pub const COSTLY_FACTOR: u64 = 4;
pub const COSTLY_EXTRA: u64 = 64 << 20;

/// Whether a start on a damaged log holding `used` bytes of memory took far
/// more than the same store's start on an empty directory (`empty`).
pub fn costly_memory(used: u64, empty: u64) -> bool {
    used >= empty.saturating_mul(COSTLY_FACTOR) && used >= empty.saturating_add(COSTLY_EXTRA)
}

/// A start this many times slower than a typical one, and at least
/// [`SLOW_EXTRA`] slower, is named. The floor is what keeps a loaded
/// machine quiet: a few hundred bytes of log never cost seconds, while a
/// busy machine slows every start alike (the drills compare with the
/// slower of an empty start and the median start of the same run). The
/// factor is for a runtime whose every start takes seconds.
pub const SLOW_FACTOR: u32 = 3;
pub const SLOW_EXTRA: Duration = Duration::from_secs(3);

/// Whether a start that took `took` is far slower than a `typical` one.
pub fn slow_start(took: Duration, typical: Duration) -> bool {
    took >= typical.saturating_mul(SLOW_FACTOR) && took >= typical.saturating_add(SLOW_EXTRA)
}

/// Whether `used` bytes came near a memory limit of `limit_mib` MiB: at
/// least half of it. A store at half its limit that asks for as much again
/// is refused; a recovery of a few hundred bytes has no business there.
pub fn near_limit(used: u64, limit_mib: u64) -> bool {
    used >= limit_mib.saturating_mul(1 << 20) / 2
}

/// `recovery of 312 bytes of files took 700.0 MiB of memory (an empty
/// start: 9.5 MiB)`: the figure a cost explanation starts with.
pub fn memory_figure(dir_bytes: u64, used: u64, empty: Option<u64>) -> String {
    let empty = empty
        .map(|empty| format!(" (an empty start: {})", crate::files::human_size(empty)))
        .unwrap_or_default();
    format!(
        "recovery of {dir_bytes} bytes of files took {} of memory{empty}",
        crate::files::human_size(used)
    )
}

/// The signals a process that ran out of memory dies of: the kernel's
/// `SIGKILL`, `SIGSEGV` or `SIGBUS` from writing through an unchecked
/// allocation, `SIGABRT` from a runtime that aborts.
const OUT_OF_MEMORY_SIGNALS: [(i32, &str); 4] = [
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (9, "SIGKILL"),
    (11, "SIGSEGV"),
];

/// The name of the signal a store died of, if it is one a process out of
/// memory dies of: from the exit status, or from a wrapping shell's exit
/// code 128 + N.
pub fn out_of_memory_signal(status: &std::process::ExitStatus) -> Option<&'static str> {
    use std::os::unix::process::ExitStatusExt;
    let number = status.signal().or_else(|| {
        status
            .code()
            .filter(|code| *code > 128)
            .map(|code| code - 128)
    })?;
    OUT_OF_MEMORY_SIGNALS
        .iter()
        .find(|(signal, _)| *signal == number)
        .map(|(_, name)| *name)
}

/// Why a store that died of `signal` near its memory limit did.
pub fn killed_out_of_memory(figure: &str, signal: &str, limit_mib: u64) -> String {
    format!(
        "{figure}, near the drill's limit of {limit_mib} MiB, and then died of {signal}: {OUT_OF_MEMORY}"
    )
}

/// How many of the store's last stderr lines a failure quotes.
pub const STDERR_TAIL: usize = 8;

/// Why a store printed nothing on stdout at all.
pub const FLUSH_EACH_LINE: &str =
    "every reply must be flushed at once (a pipe is block-buffered: flush stdout after each line)";

/// Why a store that wrote to stderr printed no `READY` in time; `memory`,
/// the figure ([`memory_figure`]) when its memory was large.
pub fn still_recovering(timeout: Duration, memory: Option<&str>) -> String {
    let cause = match memory {
        Some(figure) => format!(
            "Meanwhile, {figure}: it most likely allocates what a damaged length field claims before checking that the file holds that many bytes"
        ),
        None => "Look for a loop that does not advance, or an allocation of what a damaged length field claims before checking that the file holds that many bytes".to_string(),
    };
    format!(
        "the store was still recovering after {} s: its stderr shows it started, but it printed no READY (the drill's logs are a few hundred bytes: recovery should take well under a second, even with several starts at once). {cause}",
        timeout.as_secs()
    )
}

/// Why a store that died out of memory did.
pub const OUT_OF_MEMORY: &str = "the store ran out of memory (under the drill's memory limit, \
     --limit-memory, 1024 MiB by default) on the drill's small log: it allocates what a damaged length field \
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

/// The peak memory of a store's processes, sampled while it recovers (see
/// the module's docs).
#[derive(Debug)]
pub struct Sampler {
    /// The drill's child: the store, its launcher (which `exec`s it), a
    /// wrapper that runs it, or strace.
    root: u32,
    /// Whether `root` is strace, whose own memory is not the store's.
    skip_root: bool,
    peak: Option<u64>,
}

impl Sampler {
    pub fn new(root: u32, skip_root: bool) -> Sampler {
        Sampler {
            root,
            skip_root,
            peak: None,
        }
    }

    /// Reads the memory of the store's processes now; keeps the largest.
    pub fn sample(&mut self) {
        let root = (!self.skip_root).then_some(self.root);
        for pid in root.into_iter().chain(crate::tree::descendants(self.root)) {
            self.add(memory_in_use(pid));
        }
    }

    /// Adds a figure measured elsewhere (at `READY`).
    pub fn add(&mut self, used: Option<u64>) {
        self.peak = self.peak.max(used);
    }

    /// The largest figure seen.
    pub fn peak(&self) -> Option<u64> {
        self.peak
    }
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

    const MIB: u64 = 1 << 20;

    #[test]
    fn memory_is_costly_only_far_beyond_an_empty_start() {
        // Both: four times as much, and 64 MiB more.
        assert!(costly_memory(200 * MIB, 10 * MIB));
        assert!(!costly_memory(70 * MIB, 10 * MIB), "not 64 MiB more");
        assert!(!costly_memory(500 * MIB, 200 * MIB), "not four times");
        assert!(costly_memory(64 * MIB, 0));
    }

    #[test]
    fn a_start_is_slow_only_far_beyond_a_typical_one() {
        let ms = Duration::from_millis;
        assert!(slow_start(ms(5_100), ms(100)));
        // Seconds of a loaded machine's median are not a slow recovery.
        assert!(!slow_start(ms(2_900), ms(100)), "not 3 s more");
        assert!(!slow_start(ms(5_000), ms(2_000)), "not three times");
        assert!(slow_start(ms(6_000), ms(2_000)));
    }

    #[test]
    fn near_the_limit_is_half_of_it_or_more() {
        assert!(near_limit(128 * MIB, 256));
        assert!(!near_limit(127 * MIB, 256));
        assert!(near_limit(900 * MIB, 1024));
        assert!(!near_limit(30 * MIB, 1024));
    }

    #[test]
    fn the_signals_of_a_process_out_of_memory_are_named() {
        use std::os::unix::process::ExitStatusExt;
        use std::process::ExitStatus;
        let named = |raw| out_of_memory_signal(&ExitStatus::from_raw(raw));
        assert_eq!(named(9), Some("SIGKILL"));
        assert_eq!(named(11), Some("SIGSEGV"));
        assert_eq!(named(6), Some("SIGABRT"));
        // A shell's exit code for its child's SIGKILL.
        assert_eq!(named(137 << 8), Some("SIGKILL"));
        assert_eq!(named(15), None, "SIGTERM");
        assert_eq!(named(1 << 8), None, "exit status 1");
        assert_eq!(named(0), None);
    }

    #[test]
    fn a_cost_explanation_gives_the_figures() {
        let figure = memory_figure(312, 700 * MIB, Some(9 * MIB + MIB / 2));
        assert_eq!(
            figure,
            "recovery of 312 bytes of files took 700.0 MiB of memory (an empty start: 9.5 MiB)"
        );
        assert_eq!(
            memory_figure(0, 2 * MIB, None),
            "recovery of 0 bytes of files took 2.0 MiB of memory"
        );
        let killed = killed_out_of_memory(&figure, "SIGSEGV", 1024);
        assert!(
            killed.starts_with(&format!(
                "{figure}, near the drill's limit of 1024 MiB, and then died of SIGSEGV: "
            )),
            "{killed}"
        );
        assert!(killed.ends_with(OUT_OF_MEMORY), "{killed}");
        let timeout = Duration::from_secs(10);
        let recovering = still_recovering(timeout, Some(&figure));
        assert!(
            recovering.contains(&format!("Meanwhile, {figure}: ")),
            "{recovering}"
        );
        assert!(!still_recovering(timeout, None).contains("Meanwhile"));
    }

    #[test]
    fn the_sampler_keeps_the_largest_figure() {
        let mut sampler = Sampler::new(std::process::id(), false);
        assert_eq!(sampler.peak(), None);
        sampler.add(Some(u64::MAX));
        sampler.sample();
        sampler.add(None);
        assert_eq!(sampler.peak(), Some(u64::MAX));
        if cfg!(target_os = "linux") {
            let mut sampler = Sampler::new(std::process::id(), false);
            sampler.sample();
            assert!(sampler.peak().is_some_and(|bytes| bytes > MIB));
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
