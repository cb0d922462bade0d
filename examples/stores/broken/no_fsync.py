#!/usr/bin/env python3
"""Broken store: writes its records to the kernel but never fsyncs them.

Defect: every record is written with os.write (so it is in the kernel's page
cache at once) and the store replies OK, but it never calls fsync. A SIGKILL
or a CRASH cannot show it: the kernel keeps the page cache and writes it out
later, so every crash drill that kills the process passes. A power loss (or a
kernel panic) before the kernel's write-back loses acknowledged records.

How it looks in a student's code: `f.write(record); f.flush()` believing that
flush() makes the data durable (it only hands it to the kernel), or an
ofstream / BufWriter flushed but never sync_all()'d.

Caught by: issue 13's power-loss check in both drills (the strace record
shows an OK to a PUT/WALPUT with no fsync of wal.log before it; the drill
undoes the unsynced writes and shows the key coming back NOT_FOUND). The
SIGKILL checks pass it.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class NoFsync(kvstore.KVStore):
    def sync(self):
        pass  # BUG: the record is in the page cache, not on the disk


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, NoFsync))
