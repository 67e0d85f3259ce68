#!/usr/bin/env bash
# CTI event latency: CLIENTS WebSocket clients (bench/event-clients) are connected to
# company bench's call-event stream while a trunk provider (sipp, bench/sipp/uac.xml)
# calls a DID ringing extension 101, whose device is sipp's built-in uas (180, then 200 at
# once). A call's latency, at a client, is from the 180 the device sent (sipp's message
# trace, µs) to the Ringing event read by that client (wall clock, µs, same machine): p50
# and p99 over every receipt. Calls come RATE a second, far apart enough that the k-th 180
# and the k-th Ringing event are the same call (checked: a pair out of order is reported).
#
# Two runs, CLIENTS connected in each:
# - company: every client has a company key, so every client receives every event (a
#   wall of supervisor panels: the worst fan-out);
# - user: every client is the panel of one user (a user key); 101's panel watches, the
#   CLIENTS-1 others (other agents) stay connected and receive nothing of 101's calls.
# Last line (the user run): `events p50_ms=N p99_ms=N clients=N`.
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
SCENARIO=$PWD/bench/sipp/uac.xml

require_tools bench/events.sh sipp curl python3
machine_and_build
cargo build --release -p event-clients
ulimit -n "$(ulimit -Hn)"
start_work
start_server $HTTP $SIP_PORT 32000-39999
one_did_to_101 $HTTP $SIP_PORT $UAS_PORT $((CLIENTS + 10))

echo "== keys: a company key, and a user (with its key) per client"
python3 - "$HTTP" "$TOKEN" "$CLIENTS" "$work" <<'PY'
import http.client, json, sys
http_address, token, clients, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
connection = http.client.HTTPConnection(http_address)
def post(path, body):
    connection.request("POST", path, json.dumps(body),
                       {"Authorization": f"Bearer {token}", "content-type": "application/json"})
    response = connection.getresponse()
    reply = response.read()
    if response.status >= 300:
        sys.exit(f"POST {path}: {response.status} {reply[:200]!r}")
    return json.loads(reply)
base = "/api/v1/companies/bench"
company_key = post(f"{base}/api-keys", {"name": "bench"})["key"]
user_keys = [post(f"{base}/api-keys", {"name": "panel 101", "user": "101"})["key"]]
for n in range(1, clients):
    extension = str(2000 + n)
    post(f"{base}/users", {"extension": extension, "email": f"u{extension}@bench.test",
                           "full_name": f"User {extension}", "role": "user"})
    user_keys.append(post(f"{base}/api-keys", {"name": f"panel {extension}", "user": extension})["key"])
with open(f"{work}/company.tokens", "w") as out:
    out.writelines(f"{company_key}\twatch\n" for _ in range(clients))
with open(f"{work}/user.tokens", "w") as out:
    out.write(f"{user_keys[0]}\twatch\n")
    out.writelines(f"{key}\n" for key in user_keys[1:])
PY

# run SCOPE: CLIENTS clients of SCOPE's tokens follow CALLS calls; prints its figures, the
# last line `events p50_ms=N p99_ms=N clients=N`.
run() {
    local scope=$1 dir="$work/$1"
    mkdir -p "$dir"
    (cd "$dir" && exec sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -mp 17052 -buff_size 4194304 -nostdin \
        -trace_msg -message_file uas_messages.log > uas.log 2>&1) &
    local uas=$!
    pids+=($uas)
    echo "== $scope: $CLIENTS clients on the event stream"
    "$TARGET/release/event-clients" "ws://$HTTP/api/v1/companies/bench/events" "$work/$scope.tokens" "$CALLS" \
        "$dir/events.tsv" > "$dir/clients.log" 2>&1 &
    local clients=$!
    for _ in $(seq 600); do grep -q '^connected' "$dir/clients.log" && break; sleep 0.1; done
    grep '^connected' "$dir/clients.log" || { cat "$dir/clients.log" >&2; exit 1; }
    local cpu_before cpu_after
    cpu_before=$(awk '{print $14 + $15}' /proc/$server/stat)

    echo "== $scope: $CALLS calls at $RATE calls/s"
    (cd "$dir" && sipp 127.0.0.1:$SIP_PORT -sf "$SCENARIO" -s 34910000001 -i 127.0.0.1 \
        -p $UAC_PORT -mp 18052 -r "$RATE" -m "$CALLS" -d 0 -buff_size 4194304 -nostdin \
        -default_behaviors all,-abortunexp -recv_timeout 5000 -timeout $((CALLS / RATE * 3 + 20)) \
        > uac.log 2>&1) || true
    wait $clients || { echo "event clients failed:" >&2; cat "$dir/clients.log" >&2; exit 1; }
    cpu_after=$(awk '{print $14 + $15}' /proc/$server/stat)
    kill $uas 2>/dev/null || true
    wait $uas 2>/dev/null || true
    echo "server CPU during the calls: $(( (cpu_after - cpu_before) * 1000 / $(getconf CLK_TCK) )) ms"
    cat "$dir/clients.log"
    python3 - "$dir" "$CLIENTS" <<'PY'
import sys
from collections import defaultdict
work, clients = sys.argv[1], sys.argv[2]
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
print(f"{len(events)} calls, {len(latencies)} receipts, {out_of_order} paired out of order; "
      f"max {latencies[-1]:.2f} ms")
print(f"events p50_ms={pick(0.50):.2f} p99_ms={pick(0.99):.2f} clients={clients}")
PY
}

run company | sed 's/^events /events (company keys, all clients receive) /'
run user
