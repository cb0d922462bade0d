#!/usr/bin/env python3
"""Broken store: never checks the record's checksum on replay.

Defect: the CRC is written but not verified, so replay trusts whatever the
fields say. A flipped bit in a value comes back as a different value (`dave`
becomes `eave`) and the store serves it as if it had been acknowledged. (The
partial-record check still works: a record without its end of line is still
skipped, so tears alone do not show this defect; bit flips do.)

How it looks in a student's code: a reader that parses the header and the
payload and never recomputes the CRC, or recomputes it and compares it
against itself, or only "checks" that the CRC field is present.

Caught by: w09-l08, the bit-flip checks (a flipped bit in record 6's value
comes back as a changed value; the drill names the flipped byte and the value
that came back).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class NoChecksum(kvstore.KVStore):
    def verify_checksum(self, line):
        pass  # BUG: the stored CRC is never compared with the record's bytes


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, NoChecksum))
