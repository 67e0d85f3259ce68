#!/usr/bin/env bash
# Post-dial delay through Centralita: a trunk provider (sipp, bench/sipp/uac.xml) calls a
# DID routed by the did-router module to an extension whose device is a sipp built-in uas
# (it answers 180 then 200 at once), at RATE calls/s for SECONDS. The delay of a call is
# from its INVITE sent to its 180 received, both as sipp's message trace stamps them (µs;
# sipp's own response times tick in 4 ms steps here, too coarse for the goal). RATE is
# half the maximum bench/cps.sh found (pass yours). Last line: `pdd p50_ms=N p99_ms=N`.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
RATE=${RATE:-500}
SECONDS_EACH=${SECONDS_EACH:-20}
HTTP=127.0.0.1:18482
SIP_PORT=15482
UAS_PORT=16051
UAC_PORT=16151

require_tools bench/pdd.sh sipp curl python3
machine_and_build
start_work
start_server $HTTP $SIP_PORT 32000-39999
one_did_to_101 $HTTP $SIP_PORT $UAS_PORT
(cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -mp 17051 -buff_size 4194304 -nostdin > uas.log 2>&1) &
pids+=($!)
sleep 0.5

echo "== bench: $RATE calls/s for ${SECONDS_EACH} s"
scenario=$PWD/bench/sipp/uac.xml
(cd "$work" && sipp 127.0.0.1:$SIP_PORT -sf "$scenario" -s 34910000001 -i 127.0.0.1 -p $UAC_PORT -mp 18051 \
    -r "$RATE" -m $((RATE * SECONDS_EACH)) -d 0 -buff_size 4194304 -nostdin \
    -default_behaviors all,-abortunexp -recv_timeout 5000 -timeout $((SECONDS_EACH * 3 + 10)) \
    -trace_stat -stf stat.csv -trace_msg -message_file messages.log > uac.log 2>&1) || true

python3 - "$work" <<'PY'
import csv, sys
work = sys.argv[1]
rows = list(csv.reader(open(f"{work}/stat.csv"), delimiter=";"))
header, last = rows[0], rows[-1]
ok, failed = (int(last[header.index(k)]) for k in ("SuccessfulCall(C)", "FailedCall(C)"))
sys.path.insert(0, "bench/sipp")
from sipp_trace import first_stamps
stamps = first_stamps(f"{work}/messages.log", {"sent": ("sent", "INVITE "), "ringing": ("received", "SIP/2.0 180")})
sent, ringing = stamps["sent"], stamps["ringing"]
delays = sorted(1000 * (ringing[c] - sent[c]) for c in ringing if c in sent)
if not delays:
    sys.exit("no 180 seen in the message trace")
pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
print(f"{ok} calls answered, {failed} failed, {len(delays)} with a 180; max {delays[-1]:.2f} ms")
print(f"pdd p50_ms={pick(0.50):.2f} p99_ms={pick(0.99):.2f}")
PY
