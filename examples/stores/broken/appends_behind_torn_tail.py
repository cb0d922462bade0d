#!/usr/bin/env python3
"""Broken store: skips a torn tail on replay but does not cut it off.

Defect: recovery stops at the damaged record and reports it correctly, but
leaves its bytes in the file. The next record is appended behind them, so the
next recovery reads the torn bytes and the new record as one damaged record,
and drops the new record: a PUT acknowledged after a recovery is lost at the
following restart.

How it looks in a student's code: a reader that stops at the first bad record
and a writer that opens the file in append mode, with nothing in between that
truncates the file to the end of the last good record.

Caught by: w09-l08, the append-after-recovery check (recover from the partial
record, PUT a new key, restart: the new key must be there; the store answers
`NOT_FOUND`).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class AppendsBehindTornTail(kvstore.KVStore):
    def cut_torn_tail(self, good_end, size):
        pass  # BUG: the torn bytes stay; new records are appended behind them


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, AppendsBehindTornTail))
