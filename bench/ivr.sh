#!/usr/bin/env bash
# Callers sitting in an IVR: N callers from a trunk provider dial a DID that leads to an
# IVR menu, which the host answers itself and where it plays its long greeting (the
# default music on hold, 24 s, looped by the menu's repeats) with its own media clock.
# The callers (bench/sipp/ivr_load.py, a SIP+RTP generator: each caller sends G.711 like a
# phone) receive the host's RTP on one socket stamped by the kernel; the figure is the
# send-interval jitter of the host's streams (|interval - 20 ms|) and the gaps (a
# sequence skip or an interval over 60 ms). The script tries N = STEPS in turn, a fresh
# server each, and stops at the first N whose jitter p99 is over 2 ms or that has a gap.
# cpu_pct is the server's CPU over the measurement (% of one core). Last line:
# `ivr calls=N jitter_p99_ms=N cpu_pct=N` for the largest N that kept time.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
STEPS=${STEPS:-"250 500 1000 1500 2000"}
[[ -n "${CALLS:-}" ]] && STEPS=$CALLS
export SECONDS_MEDIA=${SECONDS_MEDIA:-20}
export CALL_RATE=${CALL_RATE:-100}
JITTER_P99_LIMIT_MS=2
HTTP=127.0.0.1:18484
SIP_PORT=15484
CALLER_PORT=16071
SPARE_PORT=16072
GENERATOR=$PWD/bench/sipp/ivr_load.py

require_tools bench/ivr.sh curl python3
machine_and_build
start_work

# ivr_menu_on_did HTTP: company bench (trunk at 127.0.0.1) with the menu "lobby", whose
# greeting is the default music on hold; the DID 34910000001 leads to it.
ivr_menu_on_did() {
    api -X POST "http://$1/api/v1/companies" -d '{"id":"bench","name":"Bench","max_extensions":10,
        "sip_domain":"bench.test","trunk":{"username":"bench","password":"p","domain":"127.0.0.1","register":false}}' >/dev/null
    api -X POST "http://$1/api/v1/companies/bench/ivr-menus" -d '{"name":"lobby","number":"800",
        "greeting":"music-on-hold","timeout_seconds":60,"repeats":10,
        "options":[{"key":"1","destination":"hang_up"}]}' >/dev/null
    api -X POST "http://$1/api/v1/companies/bench/dids" \
        -d '{"number":"34910000001","description":"bench","default_destination":{"ivr":"lobby"}}' >/dev/null
}

best=""
for calls in $STEPS; do
    echo "== $calls callers in the IVR, ${SECONDS_MEDIA} s of prompts"
    start_server $HTTP $SIP_PORT 20000-29999
    ivr_menu_on_did $HTTP
    (cd "$work" && CALLS=$calls python3 "$GENERATOR" $SIP_PORT $CALLER_PORT $SPARE_PORT 34910000001 "$server") |
        tee "$work/step.txt"
    line=$(tail -n 1 "$work/step.txt")
    if grep -q -E ' (WARN|ERROR) ' "$work/server.log"; then
        echo "== warnings and errors (first 5 of $(grep -c -E ' (WARN|ERROR) ' "$work/server.log"))"
        grep -m 5 -E ' (WARN|ERROR) ' "$work/server.log"
    fi
    kill "$server"
    wait "$server" 2>/dev/null || true
    rm -rf "$work/data"
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    streams=$(field streams)
    jitter=$(field jitter_p99_ms)
    gaps=$(field gaps)
    if [[ "$streams" != "$calls" ]]; then
        echo "== only ${streams:-0} of $calls callers got RTP: stop"
        break
    fi
    if python3 -c "import sys; sys.exit(0 if float('$jitter') <= $JITTER_P99_LIMIT_MS and int('$gaps') == 0 else 1)"; then
        best="ivr calls=$calls jitter_p99_ms=$jitter cpu_pct=$(field cpu_pct)"
    else
        echo "== $calls callers: jitter p99 $jitter ms, $gaps gaps: over the limit, stop"
        break
    fi
done
echo "${best:-ivr calls=0 jitter_p99_ms=NaN cpu_pct=NaN}"
