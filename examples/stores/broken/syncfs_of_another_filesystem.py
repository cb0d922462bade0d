#!/usr/bin/env python3
"""Broken store: "syncs" with syncfs(2) on a descriptor of another file
system instead of fsyncing its log.

Defect: syncfs flushes the file system its descriptor lives on. This store
hands it a descriptor of /dev/null, which lives on devtmpfs, not on the disk
that holds DIR: the log's bytes stay in the page cache, and a power loss
loses every acknowledged record since the last writeback.

How it looks in a student's code: a `syncfs` (or `sync`-like) call on some
descriptor at hand, a config file's or a log directory's on another mount,
instead of `fsync(fd)` of the file just written.

Caught by: the power-loss check of both drills (a `syncfs` counts as a sync
of everything only for a descriptor beneath the store's directory).
"""

import ctypes
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402

LIBC = ctypes.CDLL(None, use_errno=True)
ELSEWHERE = os.open("/dev/null", os.O_RDONLY)


class SyncfsOfAnotherFilesystem(kvstore.KVStore):
    def sync(self):
        LIBC.syncfs(ELSEWHERE)  # BUG: flushes devtmpfs, not the disk under DIR


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, SyncfsOfAnotherFilesystem))
