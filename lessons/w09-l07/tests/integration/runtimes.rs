//! Stores in other runtimes pass under the drill's confinement and limits:
//! a Java store (the JVM reserves and commits far more memory than Python,
//! and starts a dozen threads) must pass as the Python model does. Skipped
//! where `java` is missing.

use std::path::Path;

use crate::binary;

#[test]
fn a_java_store_passes() {
    let found = std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("skipped: java is not installed");
        return;
    }
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/stores/KvStore.java");
    // Source-file mode: the JDK compiles it in memory at each start.
    let stdout = binary().passes_against(&format!("java {}", source.display()));
    assert!(stdout.contains("confinement: "), "{stdout}");
}
