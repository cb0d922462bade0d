#!/usr/bin/env python3
"""Broken store: rewrites the whole log into a temporary file and renames it
over the old one, without any fsync.

Defect: the rename is atomic for a running system, so every SIGKILL check
passes, but neither the new file's data nor the rename is durable when the
OK goes out: after a power loss the log can be the old one, or an empty
file under the new name.

How it looks in a student's code: the "write a temp file, then rename" idiom
without `fsync(tmp)` before the rename and `fsync(directory)` after it.

Caught by: the power-loss check of both drills (the OK to the first write
comes without an fsync of wal.log), never by a SIGKILL.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class RewritesLogWithoutFsync(kvstore.KVStore):
    def append(self, record):
        with open(self.path, "rb") as log:
            data = log.read()
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as new:
            new.write(data + record)  # BUG: no fsync of the new file
        os.replace(tmp, self.path)  # BUG: and none of the directory after
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND)

    def sync(self):
        pass  # BUG: the OK follows at once


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, RewritesLogWithoutFsync))
