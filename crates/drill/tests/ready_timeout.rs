//! A store that prints no `READY` within the bound: told to flush its
//! stdout only when it said nothing at all; when its stderr shows it began
//! recovering, told that it is still recovering.

use std::path::Path;

use drill::Store;
use drill::process::Running;

fn start_fails(command: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_command_line(command).unwrap();
    match Running::start(&store, Path::new(dir.path())) {
        Ok(_) => panic!("{command}: started"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn a_store_that_said_it_is_recovering_is_told_it_still_is() {
    // The store's own slowness, bounded by the drill's READY timeout.
    let failed = start_fails("sh -c 'echo replaying wal.log >&2; exec sleep 60'");
    assert!(failed.contains("found nothing after 10 s"), "{failed}");
    assert!(failed.contains("replaying wal.log"), "{failed}");
    assert!(
        failed.contains("the store was still recovering after 10 s: its stderr shows it started"),
        "{failed}"
    );
    assert!(!failed.contains("flush"), "{failed}");
}

#[test]
fn a_store_that_said_nothing_is_told_to_flush() {
    let failed = start_fails("sh -c 'exec sleep 60'");
    assert!(failed.contains("found nothing after 10 s"), "{failed}");
    assert!(
        failed.contains("every reply must be flushed at once"),
        "{failed}"
    );
}
