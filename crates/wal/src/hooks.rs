//! Points where a test holds or fails one side of a race, deterministically.
//!
//! Each thread may install its own hook ([`set_step_hook`]); the library
//! calls it by name at the points where two processes' steps can interleave
//! (a writer between opening its log and locking it, a checkpoint between
//! its file-changing calls), so a test can park one side there (on a
//! channel, a barrier) while the other runs, or make the step fail as a
//! broken disk would. Without a hook each point costs one thread-local read.

use std::cell::RefCell;
use std::io;

/// What a hook does at a named point: `Ok` to go on, `Err` to fail the
/// step with that error.
pub type StepHook = Box<dyn FnMut(&str) -> io::Result<()>>;

thread_local! {
    static HOOK: RefCell<Option<StepHook>> = const { RefCell::new(None) };
}

/// Installs (or with `None` removes) this thread's step hook. For tests.
#[doc(hidden)]
pub fn set_step_hook(hook: Option<StepHook>) {
    HOOK.with(|cell| *cell.borrow_mut() = hook);
}

/// Runs this thread's hook at the point `name`, if one is installed.
pub(crate) fn step(name: &str) -> io::Result<()> {
    // Taken out while it runs, so a hook that calls into the library does
    // not find itself borrowed.
    let Some(mut hook) = HOOK.with(|cell| cell.borrow_mut().take()) else {
        return Ok(());
    };
    let result = hook(name);
    HOOK.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(hook);
        }
    });
    result
}

/// Whether this thread has a hook: a point that must let go of a lock to
/// run one asks first, and costs nothing more without.
pub(crate) fn installed() -> bool {
    HOOK.with(|cell| cell.borrow().is_some())
}
