#!/usr/bin/env python3
"""Broken store: waits for the bytes a damaged length field claims.

Defect: when a record's header announces more bytes than the file holds,
recovery takes the record for one still being written and waits for the
rest to arrive, polling the file's size, for longer the more bytes are
missing (a tenth of a second per 16 MiB, at most 5 s). Nothing else writes
the log while the store starts: a record that runs past the end of the file
is a partial record, to be skipped at once. On a good log no record runs
past the end, and a tear leaves the true length; only a flipped high bit of
a length field makes it wait, and then the store answers correctly, seconds
late.

How it looks in a student's code: `while (file_size() < offset + len)
sleep(...)` or a read loop that retries a short read until a deadline
scaled to the length, as if reading a socket, not a file.

Caught by: w09-l08, the bit flips of record 6's length field: every state is
right, so the drill passes, with a warning naming the slowest case and both
times ("recovery of a ...-byte log took 5.2 s to READY (bit 6 of byte 7 of
record 6 ...; an empty start: ... ms): the store's recovery reads, waits for
or allocates far more than the log holds").
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore_preallocated  # noqa: E402

HEADER = kvstore_preallocated.HEADER
SECONDS_PER_16_MIB = 0.1
MOST_SECONDS = 5.0


class WaitsForClaimedLength(kvstore_preallocated.PreallocatedKVStore):
    def decode_at(self, data, offset):
        if offset + HEADER.size <= len(data):
            _, body_len, _ = HEADER.unpack_from(data, offset)
            needed = offset + HEADER.size + body_len
            # BUG: a record past the end of the file is waited for, not skipped.
            patience = min(MOST_SECONDS, body_len / (16 << 20) * SECONDS_PER_16_MIB)
            deadline = time.monotonic() + patience
            while os.fstat(self.fd).st_size < needed and time.monotonic() < deadline:
                time.sleep(0.05)
        return super().decode_at(data, offset)


if __name__ == "__main__":
    sys.exit(kvstore_preallocated.main(sys.argv, WaitsForClaimedLength))
