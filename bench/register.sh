#!/usr/bin/env bash
# Registrations per second: sipp clients (several processes; one saturates near 2,000/s
# here) register 1,000 extensions with digest authentication (REGISTER, 401, REGISTER,
# 200) against a release build. Last line: `register per_sec=N failed_pct=N`.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
SIPP_PROCESSES=${SIPP_PROCESSES:-2}
RATE_EACH=${RATE_EACH:-5000}      # registrations per second per sipp process
SECONDS_EACH=${SECONDS_EACH:-10}
USERS=1000
HTTP=127.0.0.1:18480
SIP_PORT=15480

require_tools bench/register.sh sipp curl python3
machine_and_build

work=$(mktemp -d)
cleanup() { [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
RUST_LOG=warn CENTRALITA_ADMIN_TOKEN=$TOKEN "$CENTRALITA" serve --data-dir "$work/data" \
    --http-listen $HTTP --sip-listen 127.0.0.1:$SIP_PORT > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf http://$HTTP/api/v1/health >/dev/null && break; sleep 0.1; done

api -X POST http://$HTTP/api/v1/companies \
    -d '{"id":"bench","name":"Bench","max_extensions":1000,"sip_domain":"bench.test"}' >/dev/null
python3 - "$USERS" > "$work/users.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps([{"extension": str(1000 + i), "email": f"u{i}@bench.test", "full_name": f"User {i}"} for i in range(n)]))
PY
api -X POST http://$HTTP/api/v1/companies/bench/users/import --data-binary @"$work/users.json" >/dev/null
api http://$HTTP/api/v1/companies/bench/users | python3 -c '
import json, sys
print("SEQUENTIAL")
for u in json.load(sys.stdin):
    print(u["extension"] + ";" + u["sip_password"] + ";bench.test")' > "$work/users.csv"
sed 's/EXPECTED_STATUS/200/' tests/sipp/register.xml > "$work/register.xml"

echo "== bench: $SIPP_PROCESSES sipp x $RATE_EACH/s x ${SECONDS_EACH}s"
count=$((RATE_EACH * SECONDS_EACH))
start=$(date +%s.%N)
pids=()
for i in $(seq "$SIPP_PROCESSES"); do
    (cd "$work" && sipp 127.0.0.1:$SIP_PORT -sf register.xml -inf users.csv -i 127.0.0.1 -p $((SIP_PORT + 100 + i)) \
        -r "$RATE_EACH" -m "$count" -l 20000 -buff_size 4194304 -nostdin -timeout 120 \
        -trace_stat -stf "stat$i.csv" > "sipp$i.log" 2>&1) &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
end=$(date +%s.%N)
# Completed transactions stay 32 s (Timer J): the peak memory shows what that costs.
echo "host peak memory: $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"

python3 - "$work" "$SIPP_PROCESSES" "$start" "$end" <<'PY'
import csv, sys
work, processes, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ok = failed = 0
for i in range(1, processes + 1):
    rows = list(csv.reader(open(f"{work}/stat{i}.csv"), delimiter=";"))
    header, last = rows[0], rows[-1]
    ok += int(last[header.index("SuccessfulCall(C)")])
    failed += int(last[header.index("FailedCall(C)")])
total = ok + failed
print(f"{ok} registered, {failed} failed in {end - start:.1f} s")
print(f"register per_sec={ok / (end - start):.0f} failed_pct={100 * failed / max(total, 1):.3f}")
PY
