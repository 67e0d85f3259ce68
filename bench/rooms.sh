#!/usr/bin/env bash
# Conference-room forwarding: ROOMS rooms of PER_ROOM synthetic WebRTC participants
# (bench/room-clients, the webrtc crate, one process) each send G.711 audio (50 packets a
# second) and receive every other participant's, forwarded by the host's SFU: ROOMS ×
# PER_ROOM × (PER_ROOM − 1) forwarded streams. Once every stream flows, the host's CPU is
# measured over SECONDS while the clients count packets received against the sequence
# numbers sent. Streams per core = streams / (host CPU / one core).
# BROWSERS headless Chromium tabs (fake camera and microphone) join the first room too: the
# synthetic participants there also receive their audio and video (counted, loss too),
# and each tab receives every other participant's streams (counted, not loss-measured).
# Last line: `rooms streams=N cpu_pct=N loss_pct=N`.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
ROOMS=${ROOMS:-20}
PER_ROOM=${PER_ROOM:-5}
SECONDS_MEASURED=${SECONDS_MEASURED:-20}
BROWSERS=${BROWSERS:-2}
HTTP=127.0.0.1:18583
SIP_PORT=15583

require_tools bench/rooms.sh curl python3 chromium
machine_and_build
cargo build --release -p room-clients
ulimit -n "$(ulimit -Hn)"
start_work
start_server $HTTP $SIP_PORT 40000-44999
api -X POST "http://$HTTP/api/v1/companies" -d '{"id":"bench","name":"Bench","max_extensions":10,"sip_domain":"bench.test"}' >/dev/null
urls=()
for n in $(seq "$ROOMS"); do
    id=$(api -X POST "http://$HTTP/api/v1/companies/bench/rooms" -d "{\"name\":\"room $n\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    urls+=("ws://$HTTP/rooms/bench/$id/signal")
done

if ((BROWSERS > 0)); then
    echo "== $BROWSERS headless Chromium browsers join the first room"
    link=${urls[0]/ws:/http:}
    # One process per browser: headless Chromium opens one page per process.
    for n in $(seq "$BROWSERS"); do
        chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --use-fake-device-for-media-stream --use-fake-ui-for-media-stream \
            --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns \
            --autoplay-policy=no-user-gesture-required --user-data-dir="$work/chromium-$n" \
            --remote-debugging-port=0 "${link%/signal}" > "$work/chromium.log" 2>&1 &
        pids+=($!)
    done
fi
# The synthetic participants hear each other; those of the first room also each tab's
# audio and video; each tab hears everyone else in the first room (audio, and video from
# the other tabs).
synthetic=$((ROOMS * PER_ROOM * (PER_ROOM - 1)))
from_browsers=$((BROWSERS * 2 * PER_ROOM))
to_browsers=$((BROWSERS * PER_ROOM + BROWSERS * (BROWSERS - 1) * 2))
streams=$((synthetic + from_browsers + to_browsers))
echo "== $ROOMS rooms × $PER_ROOM participants + $BROWSERS browsers: $streams forwarded streams"
"$TARGET/release/room-clients" "$SECONDS_MEASURED" "$PER_ROOM" "$from_browsers" "${urls[@]}" \
    > "$work/clients.log" 2>&1 &
clients=$!
pids+=("$clients")
for _ in $(seq 1200); do grep -q '^ready' "$work/clients.log" && break; sleep 0.1; done
grep -q '^ready' "$work/clients.log" || {
    echo "the clients never got ready:" >&2
    cat "$work/clients.log" >&2
    [[ -f "$work/chromium.log" ]] && tail -20 "$work/chromium.log" >&2
    exit 1
}
ticks_before=$(awk '{print $14 + $15}' /proc/$server/stat)
started=$(date +%s.%N)
wait $clients || { echo "room clients failed:" >&2; cat "$work/clients.log" >&2; exit 1; }
ticks_after=$(awk '{print $14 + $15}' /proc/$server/stat)
ended=$(date +%s.%N)
cat "$work/clients.log"
python3 - "$ticks_before" "$ticks_after" "$started" "$ended" "$(getconf CLK_TCK)" "$streams" "$work/clients.log" <<'PY'
import re, sys
before, after, started, ended, hz, streams, log = sys.argv[1:]
cpu_s = (int(after) - int(before)) / int(hz)
window = float(ended) - float(started)
cpu_pct = 100 * cpu_s / window
result = dict(re.findall(r"(\w+)=([\d.]+)", open(log).read().splitlines()[-1]))
print(f"host CPU {cpu_s:.2f} s over {window:.1f} s; the synthetic participants received {result['streams']} streams")
print(f"streams per core: {int(streams) / (cpu_pct / 100):.0f}")
print(f"rooms streams={streams} cpu_pct={cpu_pct:.1f} loss_pct={float(result['loss_pct']):.3f}")
PY
