#!/usr/bin/env python3
"""Broken store: the checksum covers the value but not the key.

Defect: each record's CRC is computed over its last field (the value, or a
DEL's key) and the line end only, so a flipped bit in the LSN, the op or a
PUT's key passes the check. A flip in record 6's key replays the PUT under
another key (`user:4` becomes `tser:4`), a key nobody wrote.

How it looks in a student's code: `crc32(value)` instead of a CRC over the
whole serialized record, often because the header is packed separately.

Caught by: w09-l08, the bit-flip checks, which also ask for every key one bit
away from record 6's and expect NOT_FOUND (the drill names the flipped byte
and the key that came back).
"""

import os
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


def last_field_crc(body):
    # BUG: only the bytes after the last space are covered.
    return zlib.crc32(body[body.rfind(b" ") + 1:])


class ChecksumSkipsKey(kvstore.KVStore):
    def encode_record(self, op, key, value):
        fields = [str(self.next_lsn), op, key] + ([value] if value is not None else [])
        body = (" ".join(fields) + "\n").encode("ascii")
        return b"%08x " % last_field_crc(body) + body

    def verify_checksum(self, line):
        if len(line) < 10 or line[8:9] != b" " or line[:8] != b"%08x" % last_field_crc(line[9:]):
            raise kvstore.DamagedRecord("checksum mismatch")


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, ChecksumSkipsKey))
