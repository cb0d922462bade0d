//! Stores in other runtimes pass under the drill's confinement and limits:
//! a Node store (its event loop's threads, its eventfd, its larger memory)
//! must pass as the Python model does. Skipped where `node` is missing.

use std::path::Path;

use crate::binary;

#[test]
fn a_node_store_passes() {
    let found = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("skipped: node is not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/stores/kvstore.js");
    let stdout = binary().passes_against(&format!("node {}", script.display()));
    assert!(stdout.contains("confinement: "), "{stdout}");
}
