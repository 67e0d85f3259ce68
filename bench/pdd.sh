#!/usr/bin/env bash
# Post-dial delay through Centralita: a trunk provider (sipp, bench/sipp/uac.xml) calls a
# DID routed by the did-router module to an extension whose device is a sipp built-in uas
# (it answers 180 then 200 at once), at RATE calls/s for SECONDS. The delay of a call is
# from its INVITE sent to its 180 received at the caller's port, both as the kernel stamps
# them in a packet capture of the loopback (tcpdump; sipp's own message trace adds sipp's
# scheduling on the shared cores, and its response times tick in 4 ms steps). RATE is half
# the maximum bench/cps.sh found (pass yours). Last line: `pdd p50_ms=N p99_ms=N`.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
RATE=${RATE:-500}
SECONDS_EACH=${SECONDS_EACH:-20}
HTTP=127.0.0.1:18482
SIP_PORT=15482
UAS_PORT=16051
UAC_PORT=16151

require_tools bench/pdd.sh sipp curl python3 tcpdump  # tcpdump: Debian package tcpdump, run as root
machine_and_build
start_work
start_server $HTTP $SIP_PORT 32000-39999
one_did_to_101 $HTTP $SIP_PORT $UAS_PORT
(cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -mp 17051 -buff_size 4194304 -nostdin > uas.log 2>&1) &
pids+=($!)
sleep 0.5

echo "== bench: $RATE calls/s for ${SECONDS_EACH} s"
# Both legs of every call, stamped by the kernel.
tcpdump -i lo -n -s 2048 -B 65536 -w "$work/calls.pcap" "udp and (port $UAC_PORT or port $UAS_PORT)" \
    > "$work/tcpdump.log" 2>&1 &
capture=$!
pids+=("$capture")
sleep 1
scenario=$PWD/bench/sipp/uac.xml
(cd "$work" && sipp 127.0.0.1:$SIP_PORT -sf "$scenario" -s 34910000001 -i 127.0.0.1 -p $UAC_PORT -mp 18051 \
    -r "$RATE" -m $((RATE * SECONDS_EACH)) -d 0 -buff_size 4194304 -nostdin \
    -default_behaviors all,-abortunexp -recv_timeout 5000 -timeout $((SECONDS_EACH * 3 + 10)) \
    -trace_stat -stf stat.csv > uac.log 2>&1) || true
sleep 0.5
kill -INT "$capture"
wait "$capture" || true
grep -E "captured|dropped" "$work/tcpdump.log"

python3 - "$work" $UAC_PORT $SIP_PORT $UAS_PORT <<'PY'
import csv, sys
work, caller, host, callee = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = list(csv.reader(open(f"{work}/stat.csv"), delimiter=";"))
header, last = rows[0], rows[-1]
ok, failed = (int(last[header.index(k)]) for k in ("SuccessfulCall(C)", "FailedCall(C)"))
sys.path.insert(0, "bench/sipp")
from pcap_sip import call_id, from_user, packets
# Per call (keyed by the caller's number, which ends in sipp's call number): the caller's
# INVITE, the 180 back to it, and on the outgoing leg the host's INVITE to the callee and
# the callee's 180.
first = {}
leg_of = {}  # outgoing leg's Call-ID -> the call's key
for when, source, destination, payload in packets(f"{work}/calls.pcap"):
    identity = call_id(payload)
    if (source, destination) == (caller, host) and payload.startswith(b"INVITE "):
        first.setdefault(("invite", from_user(payload)), when)
        leg_of.setdefault(identity, from_user(payload))
    elif (source, destination) == (host, caller) and payload.startswith(b"SIP/2.0 180"):
        first.setdefault(("ringing", leg_of.get(identity)), when)
    elif (source, destination) == (host, callee) and payload.startswith(b"INVITE "):
        leg_of.setdefault(identity, from_user(payload))
        first.setdefault(("out", leg_of[identity]), when)
    elif (source, destination) == (callee, host) and payload.startswith(b"SIP/2.0 180"):
        first.setdefault(("callee", leg_of.get(identity)), when)
keys = [k for (kind, k) in first if kind == "invite"]
end_to_end, host_share, callee_share = [], [], []
for key in keys:
    if ("ringing", key) not in first:
        continue
    total = first[("ringing", key)] - first[("invite", key)]
    end_to_end.append(1000 * total)
    if ("out", key) in first and ("callee", key) in first:
        callee = first[("callee", key)] - first[("out", key)]
        callee_share.append(1000 * callee)
        host_share.append(1000 * (total - callee))
if not end_to_end:
    sys.exit("no 180 seen in the capture")
def pick(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]
print(f"{ok} calls answered, {failed} failed, {len(end_to_end)} with a 180 in the capture")
print(f"end to end (the callee's answer time included): p50 {pick(end_to_end, .5):.2f} ms, "
      f"p99 {pick(end_to_end, .99):.2f} ms, max {max(end_to_end):.2f} ms")
print(f"callee's answer time: p50 {pick(callee_share, .5):.2f} ms, p99 {pick(callee_share, .99):.2f} ms")
print(f"Centralita's share ({len(host_share)} calls: end to end minus the callee's INVITE-to-180): "
      f"p50 {pick(host_share, .5):.2f} ms, p99 {pick(host_share, .99):.2f} ms, max {max(host_share):.2f} ms")
print(f"pdd p50_ms={pick(end_to_end, .5):.2f} p99_ms={pick(end_to_end, .99):.2f}")
PY
