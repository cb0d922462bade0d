#!/usr/bin/env python3
"""A small key-value store with a write-ahead log, speaking the store protocol v1.

This is the model answer for the week 9 crash drills (w09-l07, w09-l08): a store
that loses nothing it acknowledged, whatever a crash leaves in its log. Run it
by hand and type requests at it:

    python3 kvstore.py /tmp/kv            # prints READY, then reads requests
    PUT user:1 alice                      # -> OK
    GET user:1                            # -> VALUE alice

or hand it to a drill:

    cargo run -p w09-l08 -- --store "python3 examples/stores/python/kvstore.py"

The protocol (requests, replies, timeouts) is in docs/store-protocol.md.
Standard library only; it starts in a few tens of milliseconds because the
drills start it hundreds of times.

The log: DIR/wal.log
--------------------
A sequence of records, one per line, nothing else (no file header). A record:

    CCCCCCCC SP LSN SP OP SP KEY [SP VALUE] LF

    byte 0..7   CCCCCCCC: the record's CRC-32 (zlib.crc32), 8 lowercase hex
                digits. It covers every byte after the following space, up to
                and including the final LF: the LSN, the operation, the key,
                the value and the end of line.
    byte 8      one space (0x20).
    byte 9..    LSN: the record's log sequence number in decimal without
                leading zeros. The first record is 1, each next one is the
                previous plus one.
                one space, then OP: "PUT" or "DEL".
                one space, then KEY: 1 to 64 printable ASCII characters, no
                spaces (0x21..0x7e).
                for PUT only: one space, then VALUE, same alphabet and length.
    last byte   LF (0x0a): the record is whole only with it.

For example the record for `PUT user:1 alice` with LSN 1 is these 28 bytes
(`\n` is the LF):

    258382ab 1 PUT user:1 alice\n

Why this shape: text, so `cat DIR/wal.log` shows it; the CRC first and
covering the end of line, so that a record cut at any byte, or with any bit
flipped, fails the check instead of being read as a shorter record; the LSN,
so that a record from somewhere else (a stale or duplicated line) fails too.

Recovery (on start)
-------------------
Read the whole log and replay records from the start. At the first record that
is partial (no LF before the end of the file) or damaged (checksum mismatch,
wrong LSN, bad fields), print

    skipping corrupt record at offset N (REASON)

on stderr and stop: a crash can only damage the last record, and a record after
a damaged one cannot be trusted to follow it. Then cut the log back to the end
of the last good record (truncate, fsync) *before* appending anything, so that
a new record never lands behind the torn bytes, where the next start would
read it as part of the damaged record and drop it. The cut is reported on
stderr. If readable records follow the damage (damage in the middle of the
log, not a torn tail), they are acknowledged data that recovery must not
apply: the bytes from the damage to the end are first copied, durably, to
DIR/wal.log.broken-OFFSET, and stderr says how many records they hold.

Finally print `READY replayed N, skipped M` (M: the damaged record plus any
records after it).

Writing
-------
PUT and DEL append their record, fsync the log, and only then apply the change
to memory and reply OK: an OK means the record is on disk. WALPUT appends and
fsyncs but does not apply (the lesson's bypass: the data is only in the log
until the next start replays it). When the log file is created, the file and
its directory are fsync'd, so that a power loss cannot drop the file itself.
If a write or fsync fails, the store replies ERR and exits 2: after a failed
fsync the state of the file is unknown, and only recovery may decide it.

Structure
---------
One class, one small method per step, so that a deliberately broken store (see
examples/stores/broken/) can subclass it and override exactly the step it gets
wrong.
"""

import os
import sys
import zlib

LOG_NAME = "wal.log"
MAX_TOKEN = 64


class DamagedRecord(Exception):
    """A record that is partial or fails its checks; the message says why."""


def valid_token(token):
    """A key or value: 1 to 64 printable ASCII characters without spaces."""
    return 1 <= len(token) <= MAX_TOKEN and all("!" <= c <= "~" for c in token)


class KVStore:
    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, LOG_NAME)
        self.table = {}  # the in-memory map: key -> value
        self.next_lsn = 1
        self.fd = None  # the log, opened for reading and appending

    # ----- start: open the log, recover ------------------------------------

    def start(self):
        """Open (or create) the log and recover; return (replayed, skipped)."""
        os.makedirs(self.directory, exist_ok=True)
        self.open_log()
        return self.recover()

    # How the log is opened: records are appended. A log written in place
    # (kvstore_preallocated.py) drops O_APPEND.
    OPEN_FLAGS = os.O_RDWR | os.O_APPEND

    def open_log(self):
        flags = self.OPEN_FLAGS
        try:
            self.fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self.fd = os.open(self.path, flags)
            return
        # A new file: make the (empty) file and its directory entry durable,
        # or a power loss could leave no log at all after records were OK'd.
        os.fsync(self.fd)
        self.sync_directory()

    def sync_directory(self):
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def read_log(self):
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, size, 0)

    def recover(self):
        """Replay every valid record; stop at the first damaged one."""
        data = self.read_log()
        offset = 0
        while offset < len(data):
            line = self.next_record_line(data, offset)
            try:
                lsn, op, key, value = self.decode_record(line, offset)
            except DamagedRecord as damage:
                skipped = self.handle_damage(data, offset, str(damage))
                return self.next_lsn - 1, skipped
            self.apply(op, key, value)
            self.next_lsn = lsn + 1
            offset += len(line)
        return self.next_lsn - 1, 0

    def next_record_line(self, data, offset):
        """The bytes of the record at offset: up to and including its LF, or
        up to the end of the file when there is no LF (a partial record)."""
        end = data.find(b"\n", offset)
        return data[offset:] if end < 0 else data[offset : end + 1]

    def decode_record(self, line, offset):
        """Check one record and return (lsn, op, key, value)."""
        if not line.endswith(b"\n"):
            raise DamagedRecord(f"partial record: {len(line)} byte(s), no end of line")
        self.verify_checksum(line)
        return self.parse_fields(line[9:-1])

    def verify_checksum(self, line):
        stored = line[:8]
        computed = b"%08x" % zlib.crc32(line[9:])
        if len(line) < 10 or line[8:9] != b" " or stored != computed:
            raise DamagedRecord(
                f"checksum mismatch: stored {stored.decode('ascii', 'replace')!r}, "
                f"computed {computed.decode()!r}"
            )

    def parse_fields(self, body):
        """LSN, op, key and value from the record's body (between the CRC's
        space and the LF). The CRC has vouched for these bytes; the checks
        here catch a record that was whole and correctly summed but does not
        belong here (a stale or duplicated record)."""
        try:
            fields = body.decode("ascii").split(" ")
        except UnicodeDecodeError:
            raise DamagedRecord("record is not ASCII") from None
        if len(fields) < 3:
            raise DamagedRecord("too few fields")
        lsn_text, op, key, *rest = fields
        if not lsn_text.isdigit() or lsn_text.startswith("0"):
            raise DamagedRecord(f"bad LSN {lsn_text!r}")
        lsn = int(lsn_text)
        if lsn != self.next_lsn:
            raise DamagedRecord(f"LSN {lsn} where {self.next_lsn} was expected")
        if op == "PUT" and len(rest) == 1 and valid_token(key) and valid_token(rest[0]):
            return lsn, op, key, rest[0]
        if op == "DEL" and not rest and valid_token(key):
            return lsn, op, key, None
        raise DamagedRecord(f"bad {op!r} record fields")

    def handle_damage(self, data, offset, reason):
        """Report the damaged record, cut it off; return how many records
        are skipped."""
        print(f"skipping corrupt record at offset {offset} ({reason})", file=sys.stderr)
        readable_after = self.count_readable_after(data, offset)
        if readable_after:
            saved = self.save_cut_bytes(data, offset)
            print(
                f"warning: {readable_after} readable record(s) follow the damaged one; "
                "they are not replayed (damage in the middle of the log, not a torn tail): "
                f"the cut bytes are saved in {saved}",
                file=sys.stderr,
            )
        self.cut_torn_tail(offset, len(data))
        return 1 + readable_after

    def count_readable_after(self, data, offset):
        """Whole records with a good checksum after the damaged record."""
        count = 0
        start = data.find(b"\n", offset)
        while start >= 0 and start + 1 < len(data):
            end = data.find(b"\n", start + 1)
            if end < 0:
                break
            try:
                self.verify_checksum(data[start + 1 : end + 1])
                count += 1
            except DamagedRecord:
                pass
            start = end
        return count

    def save_cut_bytes(self, data, offset):
        """Copy the bytes from offset to the end of the log into a new file
        beside it, durably (file and directory fsync'd), before the cut: the
        records after damage in the middle of the log were acknowledged, and
        someone may want them back. Returns the new file's name."""
        name = f"{LOG_NAME}.broken-{offset}"
        suffix = 0
        while os.path.exists(os.path.join(self.directory, name)):
            suffix += 1
            name = f"{LOG_NAME}.broken-{offset}.{suffix}"
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            # Zeros at the very end are no record's bytes (a preallocated
            # log's free space): they are not worth keeping.
            view = memoryview(data[offset:].rstrip(b"\0"))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        self.sync_directory()
        return name

    def cut_torn_tail(self, good_end, size):
        """Truncate the log to the end of its last good record, durably,
        before anything is appended behind the damage."""
        os.ftruncate(self.fd, good_end)
        os.fsync(self.fd)
        print(
            f"cut the log at offset {good_end}: {size - good_end} byte(s) removed",
            file=sys.stderr,
        )

    # ----- requests ----------------------------------------------------------

    def apply(self, op, key, value):
        if op == "PUT":
            self.table[key] = value
        else:
            self.table.pop(key, None)

    def encode_record(self, op, key, value):
        fields = [str(self.next_lsn), op, key] + ([value] if value is not None else [])
        body = (" ".join(fields) + "\n").encode("ascii")
        return b"%08x " % zlib.crc32(body) + body

    def write_ahead(self, op, key, value):
        """Append the request's record and make it durable."""
        self.append(self.encode_record(op, key, value))
        self.sync()
        self.next_lsn += 1

    def append(self, record):
        view = memoryview(record)
        while view:  # os.write may write fewer bytes than asked
            view = view[os.write(self.fd, view) :]

    def sync(self):
        os.fsync(self.fd)

    def put(self, key, value):
        self.write_ahead("PUT", key, value)
        self.apply("PUT", key, value)
        return "OK"

    def delete(self, key):
        self.write_ahead("DEL", key, None)
        self.apply("DEL", key, None)
        return "OK"

    def walput(self, key, value):
        self.write_ahead("PUT", key, value)  # logged, deliberately not applied
        return "OK"

    def get(self, key):
        value = self.table.get(key)
        return "NOT_FOUND" if value is None else f"VALUE {value}"

    def close(self):
        os.close(self.fd)

    # ----- the protocol loop -------------------------------------------------

    def handle(self, line):
        """One request line (without its LF) -> one reply line."""
        words = line.split(" ")
        name, args = words[0], words[1:]
        arity = {"PUT": 2, "WALPUT": 2, "DEL": 1, "GET": 1}
        if name == "CRASH":
            return "ERR CRASH takes no arguments"
        if name not in arity:
            return f"ERR unknown request {name!r} (expected PUT, DEL, GET, WALPUT or CRASH)"
        if len(args) != arity[name]:
            return f"ERR {name} takes {arity[name]} argument(s), got {len(args)}"
        for token in args:
            if not valid_token(token):
                return f"ERR {token!r}: keys and values are 1 to 64 printable ASCII characters"
        if name == "PUT":
            return self.put(*args)
        if name == "WALPUT":
            return self.walput(*args)
        if name == "DEL":
            return self.delete(*args)
        return self.get(*args)

    def serve(self, requests, reply):
        for raw in iter(requests.readline, b""):
            line = raw.rstrip(b"\n").decode("ascii", "replace")
            if line == "CRASH":
                # The simulated crash: no cleanup, no flushing of anything.
                os._exit(1)
            try:
                answer = self.handle(line)
            except OSError as error:
                # A failed write or fsync leaves the log in an unknown state:
                # say so and stop; the next start's recovery decides.
                reply(f"ERR cannot write the log: {error}")
                sys.exit(2)
            reply(answer)
        self.close()


def main(argv, store_class=KVStore):
    if len(argv) != 2:
        print(f"usage: {argv[0]} DIR", file=sys.stderr)
        return 2
    store = store_class(argv[1])
    try:
        replayed, skipped = store.start()
    except OSError as error:
        print(f"cannot open the store in {argv[1]}: {error}", file=sys.stderr)
        return 2

    def reply(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()  # the tester waits for each reply line

    reply(f"READY replayed {replayed}, skipped {skipped}")
    store.serve(sys.stdin.buffer, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
