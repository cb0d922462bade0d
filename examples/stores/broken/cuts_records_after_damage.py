#!/usr/bin/env python3
"""Broken store: silently cuts the readable records after damage in the log.

Defect: recovery stops at the first corrupt record, as it should, and cuts
the log there before appending, as it should; but when readable records
follow the damage (damage in the middle of the log, not a crash's torn
tail), they go with the cut, kept nowhere and mentioned nowhere. Those were
acknowledged writes: a bad sector or a bug in record 3 should not silently
destroy records 4-6, which someone may want to recover by hand.

How it looks in a student's code: the torn-tail fix (`ftruncate` at the end
of the last good record) applied to every kind of damage, without a copy of
what is cut.

Caught by: w09-l08, the "damage before the last record" step, with a
warning (the state is right, so no check fails): "the readable records after
the damage (operations 4-6) are in no file of the store's directory any
more".
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class CutsRecordsAfterDamage(kvstore.KVStore):
    def handle_damage(self, data, offset, reason):
        print(f"skipping corrupt record at offset {offset} ({reason})", file=sys.stderr)
        # BUG: whatever follows the damage is cut with it and kept nowhere.
        self.cut_torn_tail(offset, len(data))
        return 1


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, CutsRecordsAfterDamage))
