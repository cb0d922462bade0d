#!/usr/bin/env python3
"""Broken store: a preallocated log whose end is taken to be where the zeros start.

Defect: the store preallocates its log like
`../python/kvstore_preallocated.py`, and recovers from it the same way, but
it decides where the next record goes by scanning back over the zeros from
the end of the file: the log "ends" after its last non-zero byte. After a
torn record that is behind the torn bytes (which recovery zeroed, but from
the end of the last good record on), so the next record lands after a gap
of zeros. The next recovery meets a zero header with a record after it,
damage, and drops the new record: a PUT acknowledged after a recovery is
lost at the following restart.

How it looks in a student's code: `end = len(data.rstrip(b"\\0"))`, the
shortcut that works for every clean log, with the recovery's own idea of
where the good records end left unused.

Caught by: w09-l08, the append-after-recovery check (recover from the partial
record, PUT a new key, restart: the new key must be there; the store answers
`NOT_FOUND`).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore_preallocated  # noqa: E402


class WritesAfterNonzeroBytes(kvstore_preallocated.PreallocatedKVStore):
    def find_end(self, data, good_end):
        return len(data.rstrip(b"\0"))  # BUG: the torn bytes' end, not the good records'


if __name__ == "__main__":
    sys.exit(kvstore_preallocated.main(sys.argv, WritesAfterNonzeroBytes))
