#!/usr/bin/env python3
"""Broken store: allocates what a record's length field claims before checking it.

Defect: recovery reads a record's header and at once sets aside a buffer of
the body length it announces, and only then checks that the length is sane
and that the file holds that many bytes. On a good log the lengths are small.
A flipped bit in a length field announces up to 4 GiB: the allocation runs
out of memory (under the drill's 1024 MiB limit, or the machine's) and the
store dies before READY, on a log of a few hundred bytes.

How it looks in a student's code: `std::string body(len, '\\0');
in.read(&body[0], len);` in C++, `vec![0; len]` in Rust, `bytearray(length)`
here: the buffer first, the bounds check (if any) after the read.

Caught by: w09-l08, the bit flips of record 6's length field: the store dies
saying MemoryError, and the drill names the cause ("the store ran out of
memory ... it allocates what a damaged length field claims before checking
that the bytes exist").
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore_preallocated  # noqa: E402


class AllocatesClaimedLength(kvstore_preallocated.PreallocatedKVStore):
    def check_at(self, data, offset):
        if offset + kvstore_preallocated.HEADER.size <= len(data):
            _, body_len, _ = kvstore_preallocated.HEADER.unpack_from(data, offset)
            buffer = bytearray(body_len)  # BUG: allocated before any check
            del buffer
        return super().check_at(data, offset)


if __name__ == "__main__":
    sys.exit(kvstore_preallocated.main(sys.argv, AllocatesClaimedLength))
