//! What the fuzz targets share: a counting global allocator (the largest
//! single allocation since the last reset), the check against it, and a
//! work directory of the process's own. Each target includes this file as
//! a module; the `unsafe impl` is here, the library forbids unsafe code.
#![allow(dead_code)] // each target uses its own subset

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes any single allocation may take beyond what the input's length
/// allows: the reader's read buffer, the search past damage's capped heap of
/// waiting candidates (32,768 of 32 bytes: 1 MiB), small bookkeeping.
pub const ALLOWANCE: usize = 2 * 1024 * 1024;

/// Bytes an allocation may take per input byte: the targets' own copies of
/// the input (read back from files), and the search's window, which may
/// hold a candidate's bytes up to the file's end in a buffer that doubles.
/// With inputs cut to `MAX_INPUT`, the whole allowance stays under the
/// 16 MiB value cap that a trusted length field would ask for.
pub const PER_INPUT_BYTE: usize = 4;

/// Inputs are cut to this length so that the allowance stays far below the
/// caps whatever `-max_len` the fuzzer is given.
pub const MAX_INPUT: usize = 256 * 1024;

/// Forgets the allocations seen so far.
pub fn reset_allocations() {
    LARGEST.store(0, Ordering::Relaxed);
}

pub struct Counting;

pub static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; the only
// addition is recording the largest size requested.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

pub fn check_allocations(data: &[u8], stage: &str) {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= ALLOWANCE + PER_INPUT_BYTE * data.len(),
        "{stage}: an allocation of {largest} bytes for a {}-byte input",
        data.len()
    );
}

/// A directory of this process's own on tmpfs when there is one: recovery
/// fsyncs, which costs nothing there and milliseconds on a disk.
pub fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        remove_dead_work_dirs(&base);
        let dir = base.join(format!("{WORK_DIR_PREFIX}{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create the fuzz work directory");
        dir
    })
}

const WORK_DIR_PREFIX: &str = "wal-fuzz-";

/// libFuzzer ends the process with `exit`, so a work directory outlives its
/// fuzzer (emptied: every input is cleared away). Removes those left by
/// processes that are gone; `remove_dir` only ever removes empty ones.
fn remove_dead_work_dirs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(WORK_DIR_PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

pub fn clear(dir: &Path) {
    for entry in fs::read_dir(dir).expect("list the work directory") {
        let path = entry.expect("directory entry").path();
        fs::remove_file(&path).expect("remove a work file");
    }
}
