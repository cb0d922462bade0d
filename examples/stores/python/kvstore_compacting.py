#!/usr/bin/env python3
"""The model store with a compacted log, speaking the store protocol v1.

Usage:

    python3 kvstore_compacting.py DIR

It answers like `kvstore.py` (same requests, same replies, same log format,
same recovery), and differs in one thing: at every start on a log that holds
records, once recovery is done and before READY, it compacts the log. The
log then never holds more than the live keys plus one run's writes.

Compaction, the durable way
---------------------------
1. Write one PUT record per live key (LSNs from 1) into a new file beside
   the log, DIR/wal.log.compact, and fsync it: the new log's bytes are on
   disk before any name leads to them.
2. Rename it over DIR/wal.log: atomic for every process that looks, but the
   rename lives in the directory, not in either file.
3. fsync the directory: only now is the rename durable. Without this step a
   power loss can undo the rename, and the old log comes back without the
   records written to the new one since (examples/stores/broken/
   compacts_without_dir_fsync.py is that store).
4. Reopen the log, which is now the new file, and append to it as usual.

A power loss at any point leaves either the old log (with a stale
wal.log.compact that the next compaction overwrites) or the new one, never
a mix: both hold every acknowledged record.

This is a model of the steps, not of when to compact: a store that compacts
every N writes (the usual choice) does the same four steps in between two
requests, and its OKs after the rename wait for step 3 the same way.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvstore  # noqa: E402


class CompactingKVStore(kvstore.KVStore):
    def start(self):
        replayed, skipped = super().start()
        if self.next_lsn > 1:
            self.compact()
        return replayed, skipped

    def compact(self):
        """Rewrite the log as one PUT per live key, then swap it in."""
        tmp = self.path + ".compact"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.next_lsn = 1
            records = []
            for key, value in sorted(self.table.items()):
                records.append(self.encode_record("PUT", key, value))
                self.next_lsn += 1
            view = memoryview(b"".join(records))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # step 1: the new log's bytes
        finally:
            os.close(fd)
        self.swap_in(tmp)  # step 2
        self.make_rename_durable()  # step 3
        os.close(self.fd)  # step 4: the old file's descriptor is stale
        self.fd = os.open(self.path, self.OPEN_FLAGS)

    def swap_in(self, tmp):
        """One rename over the old log: never a moment without a log."""
        os.rename(tmp, self.path)

    def make_rename_durable(self):
        self.sync_directory()


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, CompactingKVStore))
