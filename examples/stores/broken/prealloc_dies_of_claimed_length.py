#!/usr/bin/env python3
"""Broken store: reserves what a damaged length field claims, and dies of it.

Defect: recovery reads a record's header and reserves a buffer of the body
length it announces, piece by piece, before checking that the length is sane
or that the file holds that many bytes, and never checks that an allocation
succeeded. On a good log the lengths are small. A flipped high bit announces
up to 4 GiB: the drill's memory limit (--limit-memory) refuses a piece, and
the store dies of SIGSEGV, as a C store does when it writes through the NULL
an unchecked `malloc` returned, with nothing on stderr.

How it looks in a student's code: `char *body = malloc(len); fread(body, 1,
len, f);` with no check of `len` nor of `body`. Here the pieces are anonymous
mappings that are never touched, so that the example is cheap to run; the
store holds what it got for a second before it dies, as a C store would
while it reads into it (the drill samples a recovering store's memory every
few milliseconds).

Caught by: w09-l08, the bit flips of record 6's length field: the store
dies before READY, and the drill names the memory, not the signal: "recovery
of ... bytes of files took ... of memory (an empty start: ...), near the
drill's limit of ... MiB, and then died of SIGSEGV: the store ran out of
memory ... it allocates what a damaged length field claims before checking
that the bytes exist".
"""

import mmap
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore_preallocated  # noqa: E402

HEADER = kvstore_preallocated.HEADER
PIECE = 16 << 20


class DiesOfClaimedLength(kvstore_preallocated.PreallocatedKVStore):
    def decode_at(self, data, offset):
        if offset + HEADER.size <= len(data):
            _, body_len, _ = HEADER.unpack_from(data, offset)
            pieces = []
            try:
                # BUG: the claimed length is reserved before any check.
                while len(pieces) * PIECE < body_len:
                    pieces.append(mmap.mmap(-1, PIECE, flags=mmap.MAP_PRIVATE))
            except OSError:
                # BUG: a refused allocation is not noticed; the write into it
                # is what ends the store.
                time.sleep(1)
                signal.signal(signal.SIGSEGV, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGSEGV)
            for piece in pieces:
                piece.close()
        return super().decode_at(data, offset)


if __name__ == "__main__":
    sys.exit(kvstore_preallocated.main(sys.argv, DiesOfClaimedLength))
