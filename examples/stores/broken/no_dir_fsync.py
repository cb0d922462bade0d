#!/usr/bin/env python3
"""Broken store: creates its log without fsyncing the directory.

Defect: records are fsync'd before every OK, but when the log file is
created, the directory that holds its name is never fsync'd. After a power
loss the file's data may be on disk while its directory entry is not: the
whole log, every acknowledged record in it, can be gone.

How it looks in a student's code: `open(path, "ab")` to create the WAL,
fsync on the file after each append, and no `os.fsync` of
`os.open(dir, os.O_RDONLY)` (in Rust: `File::open(dir)?.sync_all()`) after
the file is created. Most tutorials leave this step out.

Caught by: issue 13's power-loss check, as a warning (not a failure) naming
wal.log and the missing directory fsync. Every other check passes it.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class NoDirFsync(kvstore.KVStore):
    def sync_directory(self):
        pass  # BUG: the new file's directory entry is not made durable


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, NoDirFsync))
