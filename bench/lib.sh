# Shared steps of the bench/ scripts (source it after `cd` to the repository root):
# the machine header, a release build, a work directory cleaned up on exit, a release
# server, the API, and the one-DID set-up (a trunk at 127.0.0.1, extension 101, DID
# 34910000001 routed to it by the did-router module, 101 registered from a given port).

TARGET=${CARGO_TARGET_DIR:-target}
# The binary the benches run. BIN=path runs that one instead of building (to take turns
# between two builds of the same bench, A/B).
BIN=${BIN:-}
CENTRALITA=${BIN:-$TARGET/release/centralita}
TOKEN=bench-token

# require_tools SCRIPT TOOL...: fail loudly when a tool is missing.
require_tools() {
    local script=$1; shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$script: $tool missing" >&2; exit 1; }
    done
}

# The machine the figures come from, then a release build.
machine_and_build() {
    echo "== machine"
    echo "cores: $(nproc)  cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)  rustc: $(rustc --version)"
    if [[ -n "$BIN" ]]; then
        echo "== binary: $BIN (not built)"
        [[ -x "$BIN" ]] || { echo "BIN=$BIN is not an executable" >&2; exit 1; }
    else
        echo "== build (release)"
        cargo build --release -p centralita
    fi
}

# A work directory in $work; processes added to $pids are stopped and it is removed on exit
# (kept, and named, when KEEP_WORK is set).
start_work() {
    work=$(mktemp -d)
    pids=()
    trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; sleep 0.3
          if [[ -n "${KEEP_WORK:-}" ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi' EXIT
}

# start_server HTTP SIP_PORT RTP_PORTS: a release server in $work (pid in $server), up.
start_server() {
    RUST_LOG=${SERVER_LOG:-warn} CENTRALITA_ADMIN_TOKEN=$TOKEN "$CENTRALITA" serve --data-dir "$work/data" \
        --http-listen "$1" --sip-listen "127.0.0.1:$2" --rtp-ports "$3" > "$work/server.log" 2>&1 &
    server=$!
    pids+=("$server")
    for _ in $(seq 100); do curl -sf "http://$1/api/v1/health" >/dev/null && break; sleep 0.1; done
}

api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }

# one_did_to_101 HTTP SIP_PORT DEVICE_PORT [MAX_EXTENSIONS]: company bench (trunk at
# 127.0.0.1, room for MAX_EXTENSIONS users, 10 by default), extension 101 and DID
# 34910000001 routed to it; 101 registered from DEVICE_PORT, since Centralita rings the
# address a REGISTER came from.
one_did_to_101() {
    api -X POST "http://$1/api/v1/companies" -d '{"id":"bench","name":"Bench","max_extensions":'"${4:-10}"',
        "sip_domain":"bench.test","trunk":{"username":"bench","password":"p","domain":"127.0.0.1","register":false}}' >/dev/null
    local password
    password=$(api -X POST "http://$1/api/v1/companies/bench/users" \
        -d '{"extension":"101","email":"u1@bench.test","full_name":"User 1","role":"user"}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["sip_password"])')
    api -X POST "http://$1/api/v1/companies/bench/dids" \
        -d '{"number":"34910000001","description":"bench","default_destination":{"extension":"101"}}' >/dev/null
    printf 'SEQUENTIAL\n101;%s;bench.test\n' "$password" > "$work/user.csv"
    sed 's/EXPECTED_STATUS/200/; s/Expires: 300/Expires: 3600/' tests/sipp/register.xml > "$work/register.xml"
    (cd "$work" && sipp "127.0.0.1:$2" -sf register.xml -inf user.csv -i 127.0.0.1 -p "$3" -m 1 \
        -nostdin -timeout 10 -timeout_error > register.log 2>&1) ||
        { echo "registering 101 failed:" >&2; cat "$work/register.log" >&2; exit 1; }
    sleep 0.3
}

# CPU seconds (user + system) used so far by the process `pid` and its children
# (Kamailio's workers are forked from the main process).
cpu_seconds() {
    python3 - "$1" <<'PY'
import os, sys
root, ticks = sys.argv[1], os.sysconf("SC_CLK_TCK")
total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if pid == root or fields[1] == root:  # fields[1]: the parent's pid
        total += int(fields[11]) + int(fields[12])  # utime, stime
print(total / ticks)
PY
}
