#!/usr/bin/env bash
# Calls per second through Centralita with a module-routed DID, and in the same run through
# Kamailio as a stateful relay, with the same sipp traffic: a provider (bench/sipp/uac.xml)
# sends INVITE, gets 180 and 200, ACKs and hangs up at once (no media); a sipp built-in uas
# answers. SIPP_PAIRS caller/callee pairs share the load (one sipp saturates near
# 1,000–2,000 calls/s here); for Centralita each pair has its own DID, whose did-router
# module sends the call to its own extension, registered from the callee's port.
#
# The total rate steps up (RATES, STEP_S seconds each); a step passes when under 0.1 % of
# its calls failed and at least 95 % of the offered calls completed within 10 % (+1 s) of
# the step's time (sipp's stats every second; a failed call's 5 s timeout not counted).
# The figure of each system is the best completed calls/s of a passing step. Last line:
# `cps centralita=N kamailio=N ratio=N failed_pct=N` (failed_pct: Centralita's best step).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
SIPP_PAIRS=${SIPP_PAIRS:-2}
RATES=${RATES:-"500 1000 1500 2000 2500 3000 3500 4000"}   # total calls/s, all pairs
STEP_S=${STEP_S:-10}
SYSTEMS=${SYSTEMS:-"centralita kamailio"}
KEEP_WORK=${KEEP_WORK:-}   # set: keep the work directory (logs, sipp stats and errors)
HTTP=127.0.0.1:18481
SIP_PORT=15481
KAMAILIO_PORT=15591
UAS_PORT=16000          # callee i listens on UAS_PORT + i
UAC_PORT=16100          # caller i sends from UAC_PORT + i (+ 10 per step, fresh sockets)
CALLER_SCENARIO=$PWD/bench/sipp/uac.xml

require_tools bench/cps.sh sipp kamailio curl python3
echo "kamailio: $(kamailio -v | head -n 1)  sipp: $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -n 1)"
machine_and_build

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -f "$work/kamailio.pid" ]] && kill "$(cat "$work/kamailio.pid")" 2>/dev/null
    sleep 0.5
    if [[ -n "$KEEP_WORK" ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

RUST_LOG=warn CENTRALITA_ADMIN_TOKEN=$TOKEN "$CENTRALITA" serve --data-dir "$work/data" \
    --http-listen $HTTP --sip-listen 127.0.0.1:$SIP_PORT --rtp-ports 20000-31999 > "$work/server.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 100); do curl -sf http://$HTTP/api/v1/health >/dev/null && break; sleep 0.1; done

# One company; the provider is whoever sends from 127.0.0.1. Pair i: extension 10i,
# DID 3491000000i routed to it by the standard did-router module.
api -X POST http://$HTTP/api/v1/companies -d '{"id":"bench","name":"Bench","max_extensions":100,
    "sip_domain":"bench.test","trunk":{"username":"bench","password":"p","domain":"127.0.0.1","register":false}}' >/dev/null
sed 's/EXPECTED_STATUS/200/; s/Expires: 300/Expires: 3600/' tests/sipp/register.xml > "$work/register.xml"
for i in $(seq "$SIPP_PAIRS"); do
    password=$(api -X POST http://$HTTP/api/v1/companies/bench/users \
        -d "{\"extension\":\"10$i\",\"email\":\"u$i@bench.test\",\"full_name\":\"User $i\",\"role\":\"user\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["sip_password"])')
    api -X POST http://$HTTP/api/v1/companies/bench/dids -d "{\"number\":\"3491000000$i\",\"description\":\"bench\",
        \"default_destination\":{\"extension\":\"10$i\"}}" >/dev/null
    printf 'SEQUENTIAL\n10%s;%s;bench.test\n' "$i" "$password" > "$work/user$i.csv"
    # Centralita rings the address the REGISTER came from: register from the callee's port.
    (cd "$work" && sipp 127.0.0.1:$SIP_PORT -sf register.xml -inf "user$i.csv" -i 127.0.0.1 \
        -p $((UAS_PORT + i)) -m 1 -nostdin -timeout 10 -timeout_error > "register$i.log" 2>&1) ||
        { echo "registering 10$i failed:" >&2; cat "$work/register$i.log" >&2; exit 1; }
done
sleep 0.3   # sipp's register run has released the callee ports
for i in $(seq "$SIPP_PAIRS"); do
    (cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $((UAS_PORT + i)) -mp $((17000 + 10 * i)) \
        -buff_size 4194304 -nostdin > "uas$i.log" 2>&1) &
    pids+=($!)
done

kamailio -l udp:127.0.0.1:$KAMAILIO_PORT -m 2048 -M 32 -f bench/kamailio/relay.cfg \
    -P "$work/kamailio.pid" -w "$work" > "$work/kamailio.log" 2>&1
for _ in $(seq 50); do [[ -s "$work/kamailio.pid" ]] && break; sleep 0.1; done
sleep 0.5

# step NAME TARGET PID RATE STEP_NO: one step of SIPP_PAIRS callers at RATE calls/s in
# all; prints `NAME rate=R offered=N ok=N failed=N retrans=N seconds=S cpu_ms_per_call=C`.
step() {
    local name=$1 target=$2 pid=$3 rate=$4 no=$5
    local each=$((rate / SIPP_PAIRS)) callers=() service cpu_before
    local count=$((each * STEP_S))
    cpu_before=$(cpu_seconds "$pid")
    for i in $(seq "$SIPP_PAIRS"); do
        if [[ $name == centralita ]]; then service=3491000000$i; else service=$((UAS_PORT + i)); fi
        (cd "$work" && sipp "$target" -sf "$CALLER_SCENARIO" -s "$service" -i 127.0.0.1 \
            -p $((UAC_PORT + 10 * no + i)) -mp $((18000 + 10 * no + i)) -r "$each" -m "$count" -l $((each * 10)) \
            -d 0 -buff_size 4194304 -nostdin -default_behaviors all,-abortunexp -recv_timeout 5000 \
            -timeout $((STEP_S * 3 + 10)) -trace_stat -fd 1 -stf "stat-$name-$rate-$i.csv" -trace_err -error_file "errors-$name-$rate-$i.log" \
            > "uac-$name-$rate-$i.log" 2>&1) &
        callers+=($!)
    done
    for caller in "${callers[@]}"; do wait "$caller" || true; done
    python3 bench/sipp/step_summary.py "$work" "$name" "$rate" "$SIPP_PAIRS" "$count" "$cpu_before" "$(cpu_seconds "$pid")"
}

# Steps up the rate for one system while steps pass; prints each step's line.
ramp() {
    local name=$1 target=$2 pid=$3 no=0 line
    for rate in $RATES; do
        no=$((no + 1))
        line=$(step "$name" "$target" "$pid" "$rate" "$no")
        echo "$line"
        echo "$line" >> "$work/steps.txt"
        python3 - "$line" "$SIPP_PAIRS" "$STEP_S" "$rate" <<'PY' || break
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
offered = int(f["offered"])
done = int(f["ok"]) + int(f["failed"])
in_time = float(f["seconds"]) <= 1.1 * int(sys.argv[3]) + 1
sys.exit(0 if int(f["failed"]) * 1000 < max(done, 1) and done >= 0.95 * offered and in_time else 1)
PY
        sleep 5   # the callees' built-in uas keeps each call 4 s after its BYE
    done
}

for system in $SYSTEMS; do
    echo "== $system: $SIPP_PAIRS sipp pairs, ${STEP_S} s per step"
    if [[ $system == centralita ]]; then
        ramp centralita 127.0.0.1:$SIP_PORT "$server"
    else
        ramp kamailio 127.0.0.1:$KAMAILIO_PORT "$(cat "$work/kamailio.pid")"
    fi
done

if grep -q -E ' (WARN|ERROR) ' "$work/server.log"; then
    echo "== centralita warnings and errors (first 10 of $(grep -c -E ' (WARN|ERROR) ' "$work/server.log"))"
    # -m, not | head: with pipefail a grep cut off by head would end the script here.
    grep -m 10 -E ' (WARN|ERROR) ' "$work/server.log"
fi
python3 - "$work/steps.txt" "$STEP_S" <<'PY'
import sys
best, step_s = {}, int(sys.argv[2])
for line in open(sys.argv[1]):
    name, *pairs = line.split()
    f = dict(kv.split("=") for kv in pairs)
    done = int(f["ok"]) + int(f["failed"])
    in_time = float(f["seconds"]) <= 1.1 * step_s + 1
    passed = int(f["failed"]) * 1000 < max(done, 1) and done >= 0.95 * int(f["offered"]) and in_time
    if passed and int(f["rate"]) > best.get(name, (0, 0))[0]:
        best[name] = (int(f["rate"]), 100 * int(f["failed"]) / max(done, 1))
c, k = best.get("centralita", (0, 0.0)), best.get("kamailio", (0, 0.0))
print(f"cps centralita={c[0]} kamailio={k[0]} ratio={c[0] / max(k[0], 1):.2f} failed_pct={c[1]:.3f}")
PY
