#!/usr/bin/env python3
"""Broken store: replays a partial record as if it were whole.

Defect: the last record in the file, cut short by a crash, is decoded from
whatever bytes are there, without checking its checksum ("it is the last one,
there is nothing after it to go wrong"). A record torn inside its value comes
back as a PUT of the truncated value (`PUT user:4 da` instead of `dave`); torn
inside its key, it comes back as a PUT of a shorter key, when its fields still
parse.

How it looks in a student's code: a reader that takes min(length, remaining)
bytes for the payload instead of reporting a short read, or that checks the
CRC only when a full record's bytes were read.

Caught by: w09-l08, the tear checks (record 6 torn at every byte: for tears
inside the value the state is not the five-operation state; the drill names
the tear offset and the value that came back).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class ReplaysPartial(kvstore.KVStore):
    def decode_record(self, line, offset):
        if not line.endswith(b"\n"):
            return self.parse_fields(line[9:])  # BUG: a short record, used as it is
        return super().decode_record(line, offset)


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, ReplaysPartial))
