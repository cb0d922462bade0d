#!/usr/bin/env python3
"""Broken store: refuses to start when damage is followed by readable records.

Defect: recovery handles a torn tail as the lesson says (skip it, cut it,
start), but when readable records follow the damaged one it decides the log
is "corrupt in the middle", prints an error and exits, so the store never
starts until someone repairs the log by hand. Careful, but not the lesson's
behaviour: recovery stops at the first corrupt record, replays the ones
before it, keeps the rest aside, and the store starts.

How it looks in a student's code: `if records_after_damage: sys.exit(...)`,
or a strict recovery mode (tolerate only a torn tail) chosen as the default.

Caught by: w09-l08, the "damage before the last record" step: the store
would not start on a log with a corrupt record before its last, and
"refusing to start is not the lesson's behaviour either".
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import kvstore  # noqa: E402


class RefusesDamageBeforeLast(kvstore.KVStore):
    def handle_damage(self, data, offset, reason):
        readable_after = self.count_readable_after(data, offset)
        if readable_after:
            # BUG: a corrupt record before the last stops the store from starting.
            print(
                f"error: corrupt record at offset {offset} ({reason}) with {readable_after} "
                "readable record(s) after it: refusing to start, repair the log by hand",
                file=sys.stderr,
            )
            sys.exit(3)
        return super().handle_damage(data, offset, reason)


if __name__ == "__main__":
    sys.exit(kvstore.main(sys.argv, RefusesDamageBeforeLast))
