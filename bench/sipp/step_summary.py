"""One load step of sipp callers, summed from their -trace_stat files.

    step_summary.py WORK NAME RATE PAIRS COUNT CPU_BEFORE CPU_AFTER

reads WORK/stat-NAME-RATE-i.csv for i in 1..PAIRS (COUNT calls offered by each) and
prints `NAME rate=R offered=N ok=N failed=N retrans=N seconds=S cpu_ms_per_call=C`, the
CPU being CPU_AFTER - CPU_BEFORE seconds of the measured processes.
"""
import csv, sys
work, name, rate, pairs, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cpu_before, cpu_after = map(float, sys.argv[6:8])
ok = failed = retrans = 0
seconds = 0.0
for i in range(1, pairs + 1):
    try:
        rows = list(csv.reader(open(f"{work}/stat-{name}-{rate}-{i}.csv"), delimiter=";"))
    except OSError:
        continue
    header, rows = rows[0], rows[1:]
    column = lambda row, key: row[header.index(key)]
    epoch = lambda row, key: float(column(row, key).split("\t")[-1])
    last = rows[-1]
    done = int(column(last, "SuccessfulCall(C)"))
    ok += done
    failed += int(column(last, "FailedCall(C)"))
    retrans += int(column(last, "Retransmissions(C)"))
    # The time to the last completed call (stats every second): not the wait for a failed
    # call's timeout, which ends the sipp run up to 5 s later.
    finished = next(row for row in rows if int(column(row, "SuccessfulCall(C)")) == done)
    seconds = max(seconds, epoch(finished, "CurrentTime") - epoch(finished, "StartTime"))
print(f"{name} rate={ok / max(seconds, 1):.0f} offered={pairs * count} ok={ok} failed={failed} "
      f"retrans={retrans} seconds={seconds:.1f} cpu_ms_per_call={1000 * (cpu_after - cpu_before) / max(ok, 1):.3f}")
