#!/usr/bin/env python3
"""The model store with a preallocated binary log, speaking the store protocol v1.

Usage:

    python3 kvstore_preallocated.py [--grow BYTES] DIR

It answers like `kvstore.py` (same requests, same replies, same recovery
rules), and differs only in how it lays out its log: the log is grown with
zeros ahead of the writer, a step of BYTES at a time (default 65536), and
records are written in place into those zeros, as okaywal and etcd do. A
store that grows its log once per many records gets away with `fdatasync`
(no file-size change to make durable) for each record. The drills read such
a store's writes as docs/store-protocol.md says ("A store that preallocates").

The log: DIR/wal.log
--------------------
Records back to back from offset 0, then zeros to the end of the file. A
record is a 16-byte header and a body, integers little-endian:

    byte 0..4    CRC-32 (zlib.crc32) of bytes 4 to the end of the body
    byte 4..8    the body's length in bytes (1 to 133)
    byte 8..16   LSN: 1 for the first record, each next one plus one
    byte 16..    body, ASCII: "PUT KEY VALUE" or "DEL KEY"

Why binary: a little-endian length or LSN is mostly zero bytes, so writing a
record into zeros leaves many of its bytes as they were; the drill still
reads the record as one contiguous write. No record's header is all zeros
(its LSN is at least 1), which is how the end of the log is found.

Recovery (on start)
-------------------
Replay records from offset 0. The log ends at the first record position
where the header is all zeros and every byte after it is zero too (or fewer
than 16 bytes are left, all zeros). Anything else there is a damaged
record: a torn one (a header or body cut short by a power loss, the rest
still the preallocated zeros), a checksum mismatch, a wrong LSN, or a zero
header with non-zero bytes after it. At the first damaged record, say

    skipping corrupt record at offset N (REASON)

on stderr, stop, and overwrite every non-zero byte from N on with zeros,
then fsync, before anything is written. Why zero rather than only remember
where the log ends: the next record goes at N, and a shorter record there
would leave the tail of the longer torn one right behind it, bytes the next
recovery would have to tell from a record; and after damage in the middle of
the log, records that followed it could come back once a new record of the
same length fills the gap. The log keeps its length: only a record's bytes
are cleared, never the preallocated space.

Writing
-------
A record that does not fit in the zeros left grows the file first: zeros
are written up to the next multiple of the step past the record's end, and
the file is fsync'd, so the new length is durable before any record byte is
written into it (a power loss mid-record then leaves the record torn inside
zeros, never a file cut short of its records). The record is then written
at the log's end with pwrite and made durable with fdatasync before the
reply. Writing the zeros, rather than ftruncate or fallocate, puts real
blocks under the log, so an fdatasync of a record has no allocation to
record. As in kvstore.py, the file and its directory are fsync'd when the
log is created, and a failed write or fsync replies ERR and exits 2.

Structure
---------
A subclass of kvstore.KVStore that overrides the log's layout (open, read,
encode, write) and keeps everything else, so that a deliberately broken
preallocating store (examples/stores/broken/) can in turn override the one
step it gets wrong.
"""

import os
import struct
import sys
import zlib

import kvstore

HEADER = struct.Struct("<IIQ")  # CRC-32, body length, LSN
DEFAULT_GROW = 65536
# "PUT", a 64-character key and a 64-character value, two spaces.
MAX_BODY = 3 + 1 + kvstore.MAX_TOKEN + 1 + kvstore.MAX_TOKEN

fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class PreallocatedKVStore(kvstore.KVStore):
    OPEN_FLAGS = os.O_RDWR  # no O_APPEND: records are written in place

    def __init__(self, directory, grow=DEFAULT_GROW):
        super().__init__(directory)
        self.grow = grow
        self.size = 0  # the file's length: records, then zeros
        self.used = 0  # where the file's non-zero bytes end, as read on start
        self.end = 0  # where the next record goes

    # ----- start: open the log, recover ------------------------------------

    def recover(self):
        """Replay every valid record; stop at the first damaged one."""
        data = self.read_log()
        self.size = len(data)
        self.used = len(data.rstrip(b"\0"))
        offset, skipped = 0, 0
        while offset < self.used:
            try:
                length, lsn, op, key, value = self.decode_at(data, offset)
            except kvstore.DamagedRecord as damage:
                skipped = self.handle_damage(data, offset, str(damage))
                break
            self.apply(op, key, value)
            self.next_lsn = lsn + 1
            offset += length
        self.end = self.find_end(data, offset)
        return self.next_lsn - 1, skipped

    def find_end(self, data, good_end):
        """Where the next record goes: right after the last good record
        (anything after it is zeros by now)."""
        return good_end

    def check_at(self, data, offset):
        """The header at offset and the record's length, if its bytes are
        all there and its checksum holds; DamagedRecord otherwise."""
        if offset + HEADER.size > len(data):
            raise kvstore.DamagedRecord(
                f"partial header: {len(data) - offset} byte(s) before the end of the file"
            )
        header = data[offset : offset + HEADER.size]
        if not any(header):
            raise kvstore.DamagedRecord(
                f"zero header, but non-zero bytes follow up to offset {self.used}"
            )
        crc, body_len, lsn = HEADER.unpack(header)
        if not 1 <= body_len <= MAX_BODY:
            raise kvstore.DamagedRecord(f"bad body length {body_len}")
        end = offset + HEADER.size + body_len
        if end > self.used:
            raise kvstore.DamagedRecord(
                f"partial record: {HEADER.size + body_len} byte(s) announced, "
                f"{self.used - offset} before the zeros"
            )
        computed = zlib.crc32(data[offset + 4 : end])
        if crc != computed:
            raise kvstore.DamagedRecord(
                f"checksum mismatch: stored {crc:08x}, computed {computed:08x}"
            )
        return HEADER.size + body_len, lsn

    def decode_at(self, data, offset):
        """Check the record at offset; return (length, lsn, op, key, value)."""
        length, lsn = self.check_at(data, offset)
        body = data[offset + HEADER.size : offset + length]
        # parse_fields checks the LSN and the fields of the text model's
        # body, "LSN OP KEY [VALUE]".
        _, op, key, value = self.parse_fields(b"%d " % lsn + body)
        return length, lsn, op, key, value

    def count_readable_after(self, data, offset):
        """Whole records with a good checksum after the damaged record,
        found by trying every offset up to the end of the non-zero bytes."""
        count, at = 0, offset + 1
        while at < self.used:
            try:
                length, _ = self.check_at(data, at)
            except kvstore.DamagedRecord:
                at += 1
                continue
            count += 1
            at += length
        return count

    def cut_torn_tail(self, good_end, size):
        """Overwrite every non-zero byte from good_end on with zeros,
        durably, before anything is written there. The file keeps its
        length: the space stays preallocated."""
        cleared = self.used - good_end
        if cleared > 0:
            self.write_at(bytes(cleared), good_end)
            os.fsync(self.fd)
        print(
            f"zeroed the log from offset {good_end}: {cleared} byte(s) cleared, "
            f"the file keeps its {size} bytes",
            file=sys.stderr,
        )

    # ----- writing -----------------------------------------------------------

    def encode_record(self, op, key, value):
        words = [op, key] + ([value] if value is not None else [])
        body = " ".join(words).encode("ascii")
        rest = struct.pack("<IQ", len(body), self.next_lsn) + body
        return struct.pack("<I", zlib.crc32(rest)) + rest

    def append(self, record):
        """Write the record at the log's end, growing the file first if the
        zeros left are too few."""
        needed = self.end + len(record)
        if needed > self.size:
            grown = -(-needed // self.grow) * self.grow  # the next multiple
            self.write_at(bytes(grown - self.size), self.size)
            os.fsync(self.fd)  # the new length is durable before it is used
            self.size = grown
        self.write_at(record, self.end)
        self.end = needed

    def write_at(self, data, offset):
        view = memoryview(data)
        while view:  # os.pwrite may write fewer bytes than asked
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def sync(self):
        fdatasync(self.fd)


def parse_args(argv):
    """(grow, [prog, DIR]) from the command line, or None."""
    if len(argv) == 4 and argv[1] == "--grow" and argv[2].isdigit() and int(argv[2]) > 0:
        return int(argv[2]), [argv[0], argv[3]]
    if len(argv) == 2:
        return DEFAULT_GROW, argv
    return None


def main(argv, store_class=PreallocatedKVStore):
    parsed = parse_args(argv)
    if parsed is None:
        print(f"usage: {argv[0]} [--grow BYTES] DIR", file=sys.stderr)
        return 2
    grow, args = parsed
    return kvstore.main(args, lambda directory: store_class(directory, grow))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
