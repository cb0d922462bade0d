#!/usr/bin/env python3
"""Broken store: skips a corrupt record and keeps replaying the ones after it.

Defect: recovery treats a record that fails its checksum as "one bad line"
and goes on with the next. At the end of the log that is harmless (nothing
follows a torn tail), so every tear and flip of the last record passes. With
damage before the last record it builds a state that never existed: with
record 3 of 6 corrupt, operation 3 is lost but operations 4-6 are applied on
top of a state they never followed (here: the DEL of user:2 and the PUTs of
user:3 and user:4). The lesson says: skip the corrupt record *and stop*.

How it looks in a student's code: `continue` instead of `break` in the
replay loop's error branch, and the LSN check relaxed to "any LSN after the
last good one" so that the loop can resynchronise.

Caught by: w09-l08, the "damage before the last record" step: "record 3 is
corrupt, yet operations 4-6 were applied: recovery must stop at the first
corrupt record".
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class ReplaysPastCorruptRecord(kvstore.KVStore):
    def recover(self):
        data = self.read_log()
        offset = 0
        skipped = 0
        while offset < len(data):
            line = self.next_record_line(data, offset)
            try:
                lsn, op, key, value = self.decode_record(line, offset)
            except kvstore.DamagedRecord as damage:
                if not line.endswith(b"\n"):
                    # A torn tail: nothing after it, cut it like the model.
                    skipped += self.handle_damage(data, offset, str(damage))
                    break
                print(f"skipping corrupt record at offset {offset} ({damage})", file=sys.stderr)
                skipped += 1
                self.next_lsn += 1  # BUG: goes on with the records after the damage
                offset += len(line)
                continue
            self.apply(op, key, value)
            self.next_lsn = lsn + 1
            offset += len(line)
        return self.next_lsn - 1 - skipped, skipped


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, ReplaysPastCorruptRecord))
