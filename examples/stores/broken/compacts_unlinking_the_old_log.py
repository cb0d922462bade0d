#!/usr/bin/env python3
"""Broken store: compacts its log by removing the old log, then renaming the
new file into its place, without fsyncing the directory.

Defect: the new log is written to wal.log.compact and fsync'd; then wal.log
is unlinked ("a rename fails when the target exists", true on Windows, not
on POSIX) and wal.log.compact renamed to wal.log, and the directory is
never fsync'd after either. Both changes live in the directory: a power loss
can undo the unlink and the rename together, and the old wal.log comes back
without every record acknowledged since the compaction. The same holds for
renaming the old log away first, or for a hard link in place of the rename.

How it looks in a student's code: `os.remove(path)` or
`std::fs::remove_file(path)` before the rename, and no fsync of the
directory after it.

Caught by: the power-loss check of both drills, as a failure naming the
rename ("depends on rename wal.log.compact -> wal.log, with no fsync of the
store's directory after it"), the old log back on the state where it was
undone. Every SIGKILL check passes.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402
import kvstore_compacting  # noqa: E402


class CompactsUnlinkingTheOldLog(kvstore_compacting.CompactingKVStore):
    def swap_in(self, tmp):
        os.unlink(self.path)  # BUG: the old log's name removed first...
        os.rename(tmp, self.path)

    def make_rename_durable(self):
        pass  # BUG: ...and neither change made durable by a directory fsync


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, CompactsUnlinkingTheOldLog))
