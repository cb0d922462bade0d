#!/usr/bin/env python3
"""Broken store: does not replay the log on start.

Defect: recovery is skipped. The store opens its log for appending (new
records still land in it) but starts with an empty map every time, so every
acknowledged write "disappears" at the next start, although it is on disk.

How it looks in a student's code: a KVStore constructor that opens the WAL
writer but never calls recover(), or a recover() that is written and tested
but not called from the start-up path.

Caught by: w09-l07, the check after the restart (`GET test_key` must be
`VALUE test_value`, the store answers `NOT_FOUND`).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class NoReplay(kvstore.KVStore):
    def recover(self):
        return 0, 0  # BUG: the log is never read


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, NoReplay))
