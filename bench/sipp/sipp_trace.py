"""sipp's message trace (-trace_msg), read by the bench scripts.

The trace is a run of "----- <date> <time.micros>", "UDP message sent|received ...", a
blank line, then the message. `first_stamps` gives, per Call-ID, when the first message
of a kind was sent or received (µs resolution; sipp's own response times tick in 4 ms
steps here, too coarse for the figures).
"""
import re
from datetime import datetime

STAMP = re.compile(r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")


def first_stamps(path, wanted):
    """{kind: {call_id: unix seconds}} for `wanted` = {kind: (direction, start-line prefix)},
    direction "sent" or "received"; the first match per call (not a retransmission)."""
    found = {kind: {} for kind in wanted}
    when = direction = first = None
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        m = STAMP.match(line)
        if m:
            when, direction, first = datetime.fromisoformat(m.group(1)).timestamp(), None, None
            continue
        if direction is None and line.startswith("UDP message"):
            direction = "sent" if " sent" in line else "received"
            continue
        if direction and first is None and line:
            first = line
            continue
        if first and line.lower().startswith("call-id:"):
            call_id = line.split(":", 1)[1].strip()
            for kind, (wanted_direction, prefix) in wanted.items():
                if direction == wanted_direction and first.startswith(prefix):
                    found[kind].setdefault(call_id, when)
            first = ""
    return found
