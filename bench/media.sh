#!/usr/bin/env bash
# Anchored G.711 media: CALLS concurrent calls through Centralita, each with RTP both ways
# (50 packets/s per direction, 172-byte PCMU packets) for SECONDS_MEDIA seconds, and in the
# same run the same streams through rtpengine (userspace) for comparison. The calls and
# streams come from bench/sipp/media_load.py: a trunk provider calls a DID routed by the
# did-router module to extension 101 (registered by sipp from the callee's port), which
# answers; loss and latency are counted end to end, per stream, by the generator's own
# receiver. cpu_pct is the relay's CPU over the media phase (% of one core). Last line:
# `media calls=N loss_pct=N cpu_pct=N` (Centralita's figures).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${CARGO_TARGET_DIR:-target}
export CALLS=${CALLS:-1000}
export SECONDS_MEDIA=${SECONDS_MEDIA:-60}
export CALL_RATE=${CALL_RATE:-100}
HTTP=127.0.0.1:18483
SIP_PORT=15483
CALLER_PORT=16061
CALLEE_PORT=16062
NG_PORT=22223
TOKEN=bench-token
GENERATOR=$PWD/bench/sipp/media_load.py

for tool in sipp curl python3 rtpengine; do
    command -v "$tool" >/dev/null || { echo "bench/media.sh: $tool missing" >&2; exit 1; }
done
echo "== machine"
echo "cores: $(nproc)  cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)  rustc: $(rustc --version)"
echo "$(rtpengine --version 2>&1 | head -n 1)"
echo "== build (release)"
cargo build --release -p centralita

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    rm -rf "$work"
}
trap cleanup EXIT
RUST_LOG=warn CENTRALITA_ADMIN_TOKEN=$TOKEN "$TARGET/release/centralita" serve --data-dir "$work/data" \
    --http-listen $HTTP --sip-listen 127.0.0.1:$SIP_PORT --rtp-ports 20000-29999 > "$work/server.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 100); do curl -sf http://$HTTP/api/v1/health >/dev/null && break; sleep 0.1; done

api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
api -X POST http://$HTTP/api/v1/companies -d '{"id":"bench","name":"Bench","max_extensions":10,
    "sip_domain":"bench.test","trunk":{"username":"bench","password":"p","domain":"127.0.0.1"}}' >/dev/null
password=$(api -X POST http://$HTTP/api/v1/companies/bench/users \
    -d '{"extension":"101","email":"u1@bench.test","full_name":"User 1","role":"user"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["sip_password"])')
api -X POST http://$HTTP/api/v1/companies/bench/dids \
    -d '{"number":"34910000001","description":"bench","default_destination":{"extension":"101"}}' >/dev/null
printf 'SEQUENTIAL\n101;%s;bench.test\n' "$password" > "$work/user.csv"
sed 's/EXPECTED_STATUS/200/; s/Expires: 300/Expires: 3600/' tests/sipp/register.xml > "$work/register.xml"
# Centralita rings the address the REGISTER came from: the generator's callee socket.
(cd "$work" && sipp 127.0.0.1:$SIP_PORT -sf register.xml -inf user.csv -i 127.0.0.1 -p $CALLEE_PORT -m 1 \
    -nostdin -timeout 10 -timeout_error > register.log 2>&1) ||
    { echo "registering 101 failed:" >&2; cat "$work/register.log" >&2; exit 1; }
sleep 0.3

echo "== centralita: $CALLS calls, ${SECONDS_MEDIA} s of media"
(cd "$work" && python3 "$GENERATOR" centralita $SIP_PORT $CALLER_PORT $CALLEE_PORT 34910000001 "$server") |
    tee "$work/centralita.txt"
if grep -q -E ' (WARN|ERROR) ' "$work/server.log"; then
    echo "== centralita warnings and errors (first 10 of $(grep -c -E ' (WARN|ERROR) ' "$work/server.log"))"
    grep -m 10 -E ' (WARN|ERROR) ' "$work/server.log"
fi
kill "$server"

echo "== rtpengine (userspace): $CALLS calls, ${SECONDS_MEDIA} s of media"
rtpengine --config-file=none --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:$NG_PORT \
    --port-min=30000 --port-max=39999 --foreground --log-stderr --log-level=3 > "$work/rtpengine.log" 2>&1 &
rtpengine=$!
pids+=("$rtpengine")
sleep 1
(cd "$work" && python3 "$GENERATOR" rtpengine $NG_PORT "$rtpengine") | tee "$work/rtpengine.txt"

python3 - "$work/centralita.txt" <<'PY'
import sys
line = [l for l in open(sys.argv[1]) if l.startswith("centralita calls=")][-1]
f = dict(kv.split("=") for kv in line.split()[1:])
print(f"media calls={f['calls']} loss_pct={f['loss_pct']} cpu_pct={f['cpu_pct']}")
PY
