#!/usr/bin/env bash
# Anchored G.711 media: CALLS concurrent calls through Centralita, each with RTP both ways
# (50 packets/s per direction, 172-byte PCMU packets) for SECONDS_MEDIA seconds, and in the
# same run the same streams through rtpengine (userspace) for comparison. The calls and
# streams come from bench/sipp/media_load.py: a trunk provider calls a DID routed by the
# did-router module to extension 101 (registered by sipp from the callee's port), which
# answers; loss and latency are counted end to end, per stream, by the generator's own
# receiver (bench/rtp-streams plays and receives the RTP). cpu_pct is the relay's CPU over the media phase (% of one core). Last line:
# `media calls=N loss_pct=N cpu_pct=N` (Centralita's figures).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
export CALLS=${CALLS:-1000}
export SECONDS_MEDIA=${SECONDS_MEDIA:-60}
export CALL_RATE=${CALL_RATE:-100}
HTTP=127.0.0.1:18483
SIP_PORT=15483
CALLER_PORT=16061
CALLEE_PORT=16062
NG_PORT=22223
GENERATOR=$PWD/bench/sipp/media_load.py

require_tools bench/media.sh sipp curl python3 rtpengine  # rtpengine: Debian package rtpengine-daemon
cargo build --release -p rtp-streams
export RTP_STREAMS=$(cd "$TARGET" && pwd)/release/rtp-streams
echo "$(rtpengine --version 2>&1 | head -n 1)"
machine_and_build
start_work
start_server $HTTP $SIP_PORT 20000-29999
# The generator's callee socket is the registered device.
one_did_to_101 $HTTP $SIP_PORT $CALLEE_PORT

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
