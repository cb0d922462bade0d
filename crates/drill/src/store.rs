//! The first step every drill takes: a fresh store with its WAL.

use std::path::Path;

use wal::KvStore;

use crate::{Doing, Result, Steps};

/// Creates a `KvStore` with a new WAL at `wal` and prints the step that says so.
pub fn create_store(steps: &mut Steps<'_>, wal: &Path) -> Result<KvStore> {
    let store = KvStore::create(wal).doing(format!("create a KvStore at {}", wal.display()))?;
    steps.step(format_args!(
        "created KvStore with WAL at {}",
        wal.display()
    ))?;
    Ok(store)
}
