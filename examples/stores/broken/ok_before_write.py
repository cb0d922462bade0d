#!/usr/bin/env python3
"""Broken store: replies OK before the record reaches the file.

Defect: records go into a user-space buffer (a buffered file object) and
reach the file only when the buffer fills or the file is closed at a clean
exit. The fsync that follows syncs the file's descriptor, which has nothing
new in it. A crash right after the OK (CRASH, i.e. os._exit, or a SIGKILL)
throws the buffer away: an acknowledged write is lost.

How it looks in a student's code: `f.write(record); os.fsync(f.fileno())`
without `f.flush()` in between (Python, or fwrite + fsync(fileno(f)) in C), or
an std::io::BufWriter in Rust that is fsync'd through get_ref() without
flush(). The mirror image of the model's order: write, flush, fsync, reply.

Caught by: w09-l07, the check after the restart (`GET test_key` must be
`VALUE test_value`, the store answers `NOT_FOUND`), and the real crash
(`GET crash_key` after SIGKILL).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class OkBeforeWrite(kvstore.KVStore):
    def append(self, record):
        if not hasattr(self, "buffered"):
            self.buffered = open(self.fd, "ab", closefd=False)  # 8 KiB user-space buffer
        self.buffered.write(record)  # BUG: no flush(); sync() then fsyncs nothing new

    def close(self):
        if hasattr(self, "buffered"):
            self.buffered.close()  # a clean exit writes the buffer, so plain tests pass
        super().close()


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, OkBeforeWrite))
