#!/usr/bin/env python3
"""Broken store: raises an exception on a partial record at start.

Defect: recovery assumes every record is whole. At a partial record (no end
of line before the end of the file) it raises ValueError, prints a traceback
and exits 1 before READY: after one torn write the store cannot start at all,
although every earlier record is intact.

How it looks in a student's code: `data.index(b"\\n", offset)` instead of
`find` (Python), `struct.unpack` on a short slice, a `read_exact` whose error
is unwrapped (Rust), an `assert(n == header_size)` (C++): the "not enough
bytes" case the lesson's hint names is not handled.

Caught by: w09-l08, the lesson's partial-record check (first 10 bytes of
record 6): the store exits before READY and the drill quotes its traceback.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class DiesOnPartial(kvstore.KVStore):
    def next_record_line(self, data, offset):
        end = data.index(b"\n", offset)  # BUG: raises ValueError when there is no LF
        return data[offset : end + 1]


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, DiesOnPartial))
