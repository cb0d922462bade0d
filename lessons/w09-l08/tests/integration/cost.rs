//! What recovery cost: a start on a damaged log that holds far more memory
//! than the same store's start on an empty directory is named.

use std::path::Path;

use drill::testing::python;

use crate::binary;

/// The preallocating model store with one mistake: the first time a
/// record's header claims more than 1 MiB, it allocates (and zeroes) up to
/// 200 MiB before checking the claim. Once only, so that the start stays
/// fast and passes: the drill must name the cost, not time out.
const ALLOCATES_ONCE: &str = r#"
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvstore_preallocated as base

class AllocatesOnce(base.PreallocatedKVStore):
    once = False

    def check_at(self, data, offset):
        if not self.once and offset + base.HEADER.size <= len(data):
            _, claimed, _ = base.HEADER.unpack_from(data, offset)
            buffer = bytearray(min(claimed, 200 << 20))
            del buffer
            self.once = claimed > 1 << 20
        return super().check_at(data, offset)

if __name__ == "__main__":
    sys.exit(base.main(sys.argv, AllocatesOnce))
"#;

#[test]
fn a_recovery_that_allocates_a_claimed_length_is_named_with_its_cost() {
    let Some(python) = python() else {
        return;
    };
    // The store and the model it imports, in a folder of their own: a
    // confined store reads the files beside the script its command names.
    let dir = tempfile::tempdir().unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stores/python");
    for model in ["kvstore.py", "kvstore_preallocated.py"] {
        std::fs::copy(models.join(model), dir.path().join(model)).unwrap();
    }
    let script = dir.path().join("allocates_once.py");
    std::fs::write(&script, ALLOCATES_ONCE).unwrap();
    // Quoted for the command line (neither path holds a quote).
    let store = format!("'{python}' '{}'", script.display());
    let stdout = binary().passes_against(&store);
    let warning = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("warning: recovery of a "))
        .unwrap_or_else(|| panic!("no cost named:\n{stdout}"));
    for part in [
        "-byte log took 2",
        " MiB of memory (bit ",
        "; an empty start: ",
        "the store allocates what a damaged length field claims before checking that the bytes exist",
    ] {
        assert!(warning.contains(part), "{part:?} missing: {warning}");
    }
}
