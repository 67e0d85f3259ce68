"""Where a process's CPU goes, by thread name: `thread_cpu.py snap PID...` prints one JSON
object {name: [cpu_ticks, voluntary_switches]} summed over the threads of every PID
(tokio's workers share one name); `thread_cpu.py diff BEFORE AFTER CALLS` prints, per
name, the CPU in microseconds and the wake-ups (voluntary context switches) per call
between two snapshots, busiest first."""

import json
import os
import sys


def snap(pids):
    totals = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                base = f"/proc/{pid}/task/{tid}"
                fields = open(f"{base}/stat").read().rsplit(")", 1)[1].split()
                name = open(f"{base}/comm").read().strip()
                status = open(f"{base}/status").read()
            except OSError:
                continue
            switches = next(
                (int(line.split()[1]) for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")), 0
            )
            ticks, woke = totals.get(name, (0, 0))
            totals[name] = (ticks + int(fields[11]) + int(fields[12]), woke + switches)
    return totals


def diff(before, after, calls):
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    rows = []
    for name, (ticks, woke) in after.items():
        ticks0, woke0 = before.get(name, (0, 0))
        rows.append((name, (ticks - ticks0) * tick_us / calls, (woke - woke0) / calls))
    rows.sort(key=lambda row: -row[1])
    return " ".join(f"{name}={us:.0f}us/{woke:.1f}w" for name, us, woke in rows if us > 0 or woke > 0.05)


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        print(json.dumps(snap(sys.argv[2:])))
    else:
        print(diff(json.loads(sys.argv[2]), json.loads(sys.argv[3]), max(int(sys.argv[4]), 1)))
