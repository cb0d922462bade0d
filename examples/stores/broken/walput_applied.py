#!/usr/bin/env python3
"""Broken store: WALPUT is applied to memory, like a PUT.

Defect: the lesson's bypass ("write to the WAL but skip the memory update")
is not a bypass: the value is in memory at once, so a crash test built on it
proves nothing about replay.

How it looks in a student's code: the test-only "append to the WAL directly"
hook calls the normal put() path instead of the WAL writer's append().

Caught by: w09-l07, the check right after the WALPUT (`GET test_key` on the
same process must be `NOT_FOUND`, the store answers `VALUE test_value`).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class WalputApplied(kvstore.KVStore):
    def walput(self, key, value):
        return self.put(key, value)  # BUG: the bypass goes through the normal path


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, WalputApplied))
