#!/usr/bin/env python3
"""Broken store: on any damage, starts from the empty state.

Defect: when recovery meets a damaged record it throws away everything,
records before the damage included, and empties the log ("the WAL is
corrupt, start fresh"). One torn record at the end costs every acknowledged
write before it. It does say so on stderr, but the data is gone.

How it looks in a student's code: a try/except (or catch, or `unwrap_or_default`)
around the whole replay whose handler resets the map and recreates the log,
instead of keeping the records read before the error.

Caught by: w09-l08, the lesson's partial-record check (first 10 bytes of
record 6: the state must be the five-operation state; the store has lost the
earlier keys) and every tear and flip check after it.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class DiscardsLogOnDamage(kvstore.KVStore):
    def handle_damage(self, data, offset, reason):
        print(f"corrupt log ({reason} at offset {offset}): starting empty", file=sys.stderr)
        self.table = {}  # BUG: drops the good records read before the damage
        self.next_lsn = 1
        self.cut_torn_tail(0, len(data))  # ... and empties the log with them
        return 1


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, DiscardsLogOnDamage))
