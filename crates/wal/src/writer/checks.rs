//! What an append checks before it encodes anything: the caps, the
//! writer's state (poisoned, ends in a partial record, out of LSNs), and
//! whether the sync policy asks for an fsync.

use std::path::Path;

use super::{State, SyncPolicy};
use crate::error::{Error, Result};
use crate::record::Op;
use crate::record::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// Whether the sync policy asks for an fsync once records up to `last` are
/// appended and those up to `durable_lsn` are durable.
pub(super) fn needs_sync(policy: SyncPolicy, durable_lsn: u64, last: u64) -> bool {
    match policy {
        SyncPolicy::Always => true,
        SyncPolicy::EveryN(n) => last - durable_lsn >= u64::from(n.max(1)),
        SyncPolicy::Never => false,
    }
}

/// Refuses appends to a poisoned log or to one that ends in a partial record.
#[inline]
pub(super) fn check_state(path: &Path, state: &State) -> Result<()> {
    if state.poisoned.is_some() || state.ends_in_partial {
        return Err(refusal(path, state));
    }
    Ok(())
}

/// [`check_state`], and refuses a new record once LSN `u64::MAX` is used
/// (only a crafted log gets there): its LSN would wrap to 0.
#[inline]
pub(super) fn check_appendable(path: &Path, state: &State) -> Result<()> {
    check_state(path, state)?;
    if state.next_lsn == 0 {
        return Err(Error::LsnsExhausted {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Why [`check_state`] refuses: kept out of line, off the path of every
/// append.
#[cold]
fn refusal(path: &Path, state: &State) -> Error {
    if let Some((operation, message)) = &state.poisoned {
        return Error::Poisoned {
            path: path.to_path_buf(),
            operation,
            message: message.clone(),
        };
    }
    Error::EndsInPartialRecord {
        path: path.to_path_buf(),
    }
}

pub(super) fn check_sizes(op: Op, key: &[u8], value: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN as usize {
        return Err(Error::KeyTooLong {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    if value.len() > MAX_VALUE_LEN as usize {
        return Err(Error::ValueTooLong {
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    if op == Op::Delete && !value.is_empty() {
        return Err(Error::DeleteWithValue);
    }
    Ok(())
}
