#!/usr/bin/env bash
# CTI event latency: CLIENTS WebSocket clients (bench/event-clients) follow company bench's
# call-event stream while a trunk provider (sipp, bench/sipp/uac.xml) calls a DID ringing
# extension 101, whose device is sipp's built-in uas (180, then 200 at once). A call's
# latency, at each client, is from the 180 the device sent (sipp's message trace, µs) to
# the Ringing event read by that client (wall clock, µs, same machine): p50 and p99 over
# every client and call. Calls come RATE a second, far apart enough that the k-th 180 and
# the k-th Ringing event are the same call (checked: a pair out of order is reported).
# Last line: `events p50_ms=N p99_ms=N clients=N`.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
CLIENTS=${CLIENTS:-1000}
RATE=${RATE:-10}
CALLS=${CALLS:-200}
HTTP=127.0.0.1:18483
SIP_PORT=15483
UAS_PORT=16052
UAC_PORT=16152

require_tools bench/events.sh sipp curl python3
machine_and_build
cargo build --release -p event-clients
ulimit -n "$(ulimit -Hn)"
start_work
start_server $HTTP $SIP_PORT 32000-39999
one_did_to_101 $HTTP $SIP_PORT $UAS_PORT
key=$(api -X POST "http://$HTTP/api/v1/companies/bench/api-keys" -d '{"name":"bench"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
(cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -mp 17052 -buff_size 4194304 -nostdin \
    -trace_msg -message_file uas_messages.log > uas.log 2>&1) &
pids+=($!)

echo "== $CLIENTS clients on the event stream"
"$TARGET/release/event-clients" "ws://$HTTP/api/v1/companies/bench/events" "$key" "$CLIENTS" "$CALLS" \
    "$work/events.tsv" > "$work/clients.log" 2>&1 &
clients=$!
for _ in $(seq 600); do grep -q '^connected' "$work/clients.log" && break; sleep 0.1; done
grep '^connected' "$work/clients.log" || { cat "$work/clients.log" >&2; exit 1; }
server_cpu_before=$(awk '{print $14 + $15}' /proc/$server/stat)

echo "== bench: $CALLS calls at $RATE calls/s"
scenario=$PWD/bench/sipp/uac.xml
(cd "$work" && sipp 127.0.0.1:$SIP_PORT -sf "$scenario" -s 34910000001 -i 127.0.0.1 -p $UAC_PORT -mp 18052 \
    -r "$RATE" -m "$CALLS" -d 0 -buff_size 4194304 -nostdin \
    -default_behaviors all,-abortunexp -recv_timeout 5000 -timeout $((CALLS / RATE * 3 + 20)) \
    > uac.log 2>&1) || true
wait $clients || { echo "event clients failed:" >&2; cat "$work/clients.log" >&2; exit 1; }
server_cpu_after=$(awk '{print $14 + $15}' /proc/$server/stat)
echo "server CPU during the calls: $(( (server_cpu_after - server_cpu_before) * 1000 / $(getconf CLK_TCK) )) ms"
cat "$work/clients.log"

python3 - "$work" "$CLIENTS" <<'PY'
import sys
from collections import defaultdict
work, clients = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, "bench/sipp")
from sipp_trace import first_stamps
sent_180 = first_stamps(f"{work}/uas_messages.log", {"180": ("sent", "SIP/2.0 180")})["180"]
received = defaultdict(list)
for line in open(f"{work}/events.tsv"):
    call_id, client, at_us = line.split("\t")
    received[call_id].append(int(at_us) / 1e6)
rings = sorted(sent_180.values())
events = sorted(received.items(), key=lambda item: min(item[1]))
if not rings or len(rings) != len(events):
    sys.exit(f"{len(rings)} 180s sent but {len(events)} calls with Ringing events")
latencies, firsts, out_of_order = [], [], 0
for (call_id, stamps), ring in zip(events, rings):
    if min(stamps) < ring:
        out_of_order += 1
    latencies.extend(1000 * (at - ring) for at in stamps)
    firsts.append(1000 * (min(stamps) - ring))
latencies.sort()
firsts.sort()
quantile = lambda values, q: values[min(len(values) - 1, int(q * len(values)))]
pick = lambda q: quantile(latencies, q)
# The first client to read each call's event: the host's own path from the 180 to the
# stream, without the fan-out to the other clients.
print(f"first client per call: p50 {quantile(firsts, 0.5):.2f} ms, p99 {quantile(firsts, 0.99):.2f} ms")
complete = sum(1 for stamps in received.values() if len(stamps) == clients)
print(f"{len(events)} calls, {complete} seen by all {clients} clients, {len(latencies)} receipts, "
      f"{out_of_order} paired out of order; max {latencies[-1]:.2f} ms")
print(f"events p50_ms={pick(0.50):.2f} p99_ms={pick(0.99):.2f} clients={clients}")
PY
