#!/usr/bin/env python3
"""Broken store: compacts its log by renaming a new file over it, without
fsyncing the directory after the rename.

Defect: the new log is written to wal.log.compact and fsync'd, then renamed
over wal.log, and the records that follow are appended to it and fsync'd
before each OK. Every byte is durable, but the rename is not: it lives in the
directory, which is never fsync'd after it. A power loss can undo the
rename, and the old wal.log comes back without every record acknowledged
since the compaction.

How it looks in a student's code: the "write a temp file, fsync it, rename
it" idiom, correct up to the last step, with no `os.fsync` of
`os.open(dir, os.O_RDONLY)` (in Rust: `File::open(dir)?.sync_all()`) after
the rename.

Caught by: the power-loss check of both drills, as a failure naming the
rename ("depends on rename wal.log.compact -> wal.log, with no fsync of the
store's directory after it") and showing the loss on the state where the
rename was undone. Every SIGKILL check passes.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402
import kvstore_compacting  # noqa: E402


class CompactsWithoutDirFsync(kvstore_compacting.CompactingKVStore):
    def make_rename_durable(self):
        pass  # BUG: the rename is not durable until the directory is fsync'd


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, CompactsWithoutDirFsync))
