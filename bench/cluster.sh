#!/usr/bin/env bash
# Calls per second through the Kamailio front (deploy/kamailio/kamailio.cfg) to one and
# then three Centralita hosts sharing one PostgreSQL store, with bench/cps.sh's traffic: a
# provider (bench/sipp/uac.xml, its ACK and BYE following the dialog's route) calls
# SIPP_PAIRS DIDs, each routed by the did-router module to an extension registered
# through the front from a sipp built-in uas. Everything runs on this machine: on 2 cores
# this measures what sharing costs per call, not a speed-up.
#
# Every cluster size (HOSTS, default "1 3") runs side by side, each on a database and
# behind a front of its own; the rate steps up (RATES, STEP_S seconds each) and at each
# rate the sizes take turns, ROUNDS times (default 3), so that the shared machine's drift
# from one minute to the next (it moves a step's CPU per call by up to a quarter) touches
# every size alike. A size stops ramping once a step failed in most of its rounds
# (bench/cps.sh's rule: under 0.1 % failed, 95 % of the offered calls done in time). Per
# step: completed calls/s, and CPU per completed call of all hosts together, of each host,
# of Kamailio and of PostgreSQL. A step's figures are the medians of its passing rounds;
# the figures of a size are those of its best passing step, and the single host's CPU per
# call is taken at that same offered rate (with the ratios of the turns taken side by
# side, round by round). Last line:
# `cluster hosts=3 cps=N cpu_ms_per_call=N single_host_cpu_ms_per_call=N`
# (hosts' CPU only; the goal is at most 20 % more per call with 3 hosts than with 1).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
SIPP_PAIRS=${SIPP_PAIRS:-2}
HOSTS=${HOSTS:-"1 3"}
RATES=${RATES:-"200 400 600 800 1000"}
STEP_S=${STEP_S:-10}
ROUNDS=${ROUNDS:-3}
# Worker threads per host (--workers), the same for every cluster size; unset, the
# host's default (the cores, at least 4).
WORKERS=${WORKERS:-}
# Set (THREADS=1): after each step, the hosts' CPU and wake-ups per call by thread name.
THREADS=${THREADS:-}
FRONT_PORT=15700        # size N's front listens on FRONT_PORT + N
UAS_PORT=16200          # size N's callee i listens on UAS_PORT + 10 * N + i
UAC_PORT=16300          # caller i sends from UAC_PORT + 10 * (step number % 50) + i

require_tools bench/cluster.sh sipp kamailio curl python3 psql
echo "kamailio: $(kamailio -v | head -n 1)  postgres: $(psql --version)"
machine_and_build

start_work
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
      scripts/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir" "$pg_dir.initdb.log"; sleep 0.3
      if [[ -n "${KEEP_WORK:-}" ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi' EXIT
# Its own directory: PostgreSQL runs as user postgres, who cannot enter the work directory.
pg_dir=$(mktemp -d /tmp/centralita-bench-pg.XXXXXX)
pg_url=$(scripts/postgres.sh start "$pg_dir")
postmaster=$(head -n 1 "$pg_dir/postmaster.pid")
echo "postgres: $pg_url (pid $postmaster)"

# The provider's ACK and BYE go where the 200 says (Contact, Record-Route through the front).
sed -e 's|<recv response="200"/>|<recv response="200" rrs="true"/>|' \
    -e 's#^      \(ACK\|BYE\) sip:\[service\]@\[remote_ip\]:\[remote_port\] SIP/2.0#      \1 [next_url] SIP/2.0\n      [routes]#' \
    bench/sipp/uac.xml > "$work/uac.xml"
grep -q '\[routes\]' "$work/uac.xml" || { echo "bench/cluster.sh: could not derive the routed uac" >&2; exit 1; }

# start_cluster N: N hosts on a database of their own behind a front of their own, the
# company and the callees set up through the first host's API and registered through the
# front. Every size runs from the start to the end, so that their steps can take turns.
# Ports: size N's front listens on FRONT_PORT + N, its host k (1..N) on 15600 + 10 N + k
# (SIP) and 18600 + 10 N + k (API), its callee i on UAS_PORT + 10 N + i.
declare -A host_pids_of
start_cluster() {
    local n=$1 url k g sip http
    psql -q "$pg_url" -c "CREATE DATABASE cluster$n" >/dev/null
    url="${pg_url%/*}/cluster$n"
    : > "$work/dispatcher-$n.list"
    host_pids_of[$n]=""
    for k in $(seq "$n"); do
        # Each host of the run gets its own 10,000 RTP ports (hosts 1.. over all sizes).
        g=$((hosts_started + k))
        sip=$((15600 + 10 * n + k)); http=$((18600 + 10 * n + k))
        RUST_LOG=warn CENTRALITA_ADMIN_TOKEN=$TOKEN "$CENTRALITA" serve --store "$url" ${WORKERS:+--workers "$WORKERS"} \
            --data-dir "$work/host-$n-$k" --http-listen "127.0.0.1:$http" \
            --sip-listen "127.0.0.1:$sip" --rtp-ports "$((10000 + 10000 * g))-$((19998 + 10000 * g))" \
            > "$work/host-$n-$k.log" 2>&1 &
        host_pids_of[$n]+=" $!"
        pids+=($!)
        echo "1 sip:127.0.0.1:$sip" >> "$work/dispatcher-$n.list"
    done
    hosts_started=$((hosts_started + n))
    for k in $(seq "$n"); do
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((18600 + 10 * n + k))/api/v1/health" >/dev/null && break; sleep 0.1; done
    done
    kamailio -l "udp:127.0.0.1:$((FRONT_PORT + n))" -m 1024 -M 32 -f deploy/kamailio/kamailio.cfg \
        -A "DISPATCHER_LIST=\"$work/dispatcher-$n.list\"" -P "$work/kamailio-$n.pid" -w "$work" \
        > "$work/kamailio-$n.log" 2>&1
    for _ in $(seq 50); do [[ -s "$work/kamailio-$n.pid" ]] && break; sleep 0.1; done
    pids+=("$(cat "$work/kamailio-$n.pid")")
    sleep 2   # the front's first OPTIONS round marks the hosts up

    # Set up through the first host's API (the others see it in the store); the provider
    # is whoever sends from 127.0.0.1, the front included.
    local i password
    http=127.0.0.1:$((18600 + 10 * n + 1))
    api -X POST "http://$http/api/v1/companies" -d '{"id":"bench","name":"Bench","max_extensions":100,
        "sip_domain":"bench.test","trunk":{"username":"bench","password":"p","domain":"127.0.0.1","register":false}}' >/dev/null
    for i in $(seq "$SIPP_PAIRS"); do
        password=$(api -X POST "http://$http/api/v1/companies/bench/users" \
            -d "{\"extension\":\"10$i\",\"email\":\"u$i@bench.test\",\"full_name\":\"User $i\",\"role\":\"user\"}" |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["sip_password"])')
        api -X POST "http://$http/api/v1/companies/bench/dids" -d "{\"number\":\"3491000000$i\",\"description\":\"bench\",
            \"default_destination\":{\"extension\":\"10$i\"}}" >/dev/null
        printf 'SEQUENTIAL\n10%s;%s;bench.test\n' "$i" "$password" > "$work/user-$n-$i.csv"
        (cd "$work" && sipp "127.0.0.1:$((FRONT_PORT + n))" -sf register.xml -inf "user-$n-$i.csv" -i 127.0.0.1 \
            -p $((UAS_PORT + 10 * n + i)) -m 1 -nostdin -timeout 10 -timeout_error > "register-$n-$i.log" 2>&1) ||
            { echo "registering 10$i through the front of $n host(s) failed:" >&2; cat "$work/register-$n-$i.log" >&2; exit 1; }
    done
    sleep 0.3
    for i in $(seq "$SIPP_PAIRS"); do
        (cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $((UAS_PORT + 10 * n + i)) -mp $((17000 + 100 * n + 10 * i)) \
            -buff_size 4194304 -nostdin > "uas-$n-$i.log" 2>&1) &
        pids+=($!)
    done
}

# step N RATE ROUND: one step of RATE calls/s through size N's front; prints and records
# its line, and fails when the step did not pass (bench/cps.sh's rule).
step() {
    local n=$1 rate=$2 round=$3 each count callers=() before=() after=() host_cpu line pid i
    local label="hosts$n-r$round" host_pids=(${host_pids_of[$n]}) kamailio_pid
    kamailio_pid=$(cat "$work/kamailio-$n.pid")
    steps_run=$((steps_run + 1))
    each=$((rate / SIPP_PAIRS)); count=$((each * STEP_S))
    for pid in "${host_pids[@]}" "$kamailio_pid" "$postmaster"; do before+=("$(cpu_seconds "$pid")"); done
    [[ -n "$THREADS" ]] && threads_before=$(python3 bench/thread_cpu.py snap "${host_pids[@]}")
    for i in $(seq "$SIPP_PAIRS"); do
        (cd "$work" && sipp "127.0.0.1:$((FRONT_PORT + n))" -sf uac.xml -s "3491000000$i" -i 127.0.0.1 \
            -p $((UAC_PORT + 10 * (steps_run % 50) + i)) -mp $((18000 + 10 * (steps_run % 50) + i)) -r "$each" -m "$count" -l $((each * 10)) \
            -d 0 -buff_size 4194304 -nostdin -default_behaviors all,-abortunexp -recv_timeout 5000 \
            -timeout $((STEP_S * 3 + 10)) -trace_stat -fd 1 -stf "stat-$label-$rate-$i.csv" \
            -trace_err -error_file "errors-$label-$rate-$i.log" > "uac-$label-$rate-$i.log" 2>&1) &
        callers+=($!)
    done
    for pid in "${callers[@]}"; do wait "$pid" || true; done
    for pid in "${host_pids[@]}" "$kamailio_pid" "$postmaster"; do after+=("$(cpu_seconds "$pid")"); done
    [[ -n "$THREADS" ]] && threads_after=$(python3 bench/thread_cpu.py snap "${host_pids[@]}")
    host_cpu=$(python3 -c 'import sys; b, a = sys.argv[1].split(), sys.argv[2].split()
print(" ".join(f"{float(y) - float(x):.3f}" for x, y in zip(b, a)))' "${before[*]}" "${after[*]}")
    line=$(python3 bench/sipp/step_summary.py "$work" "$label" "$rate" "$SIPP_PAIRS" "$count" 0 0)
    line=$(python3 - "$line" "$n" "$host_cpu" "$round" <<'PY'
import sys
line, n, cpu, round_ = sys.argv[1], int(sys.argv[2]), [float(c) for c in sys.argv[3].split()], sys.argv[4]
f = dict(kv.split("=") for kv in line.split()[1:])
ok = max(int(f["ok"]), 1)
hosts, kamailio, postgres = cpu[:n], cpu[n], cpu[n + 1]
per_host = ",".join(f"{1000 * c / ok:.3f}" for c in hosts)
print(f"hosts={n} round={round_} rate={f['rate']} offered={f['offered']} ok={f['ok']} failed={f['failed']} "
      f"seconds={f['seconds']} cpu_ms_per_call={1000 * sum(hosts) / ok:.3f} per_host={per_host} "
      f"kamailio_ms_per_call={1000 * kamailio / ok:.3f} postgres_ms_per_call={1000 * postgres / ok:.3f}")
PY
)
    echo "$line"
    echo "$line" >> "$work/steps.txt"
    if [[ -n "$THREADS" ]]; then
        echo "  hosts' threads per call: $(python3 bench/thread_cpu.py diff "$threads_before" "$threads_after" \
            "$(sed 's/.* ok=\([0-9]*\).*/\1/' <<< "$line")")"
    fi
    python3 - "$line" "$STEP_S" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split())
done = int(f["ok"]) + int(f["failed"])
in_time = float(f["seconds"]) <= 1.1 * int(sys.argv[2]) + 1
sys.exit(0 if int(f["failed"]) * 1000 < max(done, 1) and done >= 0.95 * int(f["offered"]) and in_time else 1)
PY
}

sed 's/EXPECTED_STATUS/200/; s/Expires: 300/Expires: 3600/' tests/sipp/register.xml > "$work/register.xml"
hosts_started=0
steps_run=0
for n in $HOSTS; do
    echo "== $n host(s) behind a front of their own, on database cluster$n of the one PostgreSQL"
    start_cluster "$n"
done
# The sizes take turns at each step (round 1 of every size, then round 2, ...), so that
# the machine's drift from minute to minute touches them alike. A size stops ramping once
# a step failed in most of its rounds.
declare -A ramping
for n in $HOSTS; do ramping[$n]=1; done
for rate in $RATES; do
    declare -A failures=()
    for round in $(seq "$ROUNDS"); do
        for n in $HOSTS; do
            [[ -n "${ramping[$n]}" ]] || continue
            step "$n" "$rate" "$round" || failures[$n]=$(( ${failures[$n]:-0} + 1 ))
            sleep 5   # the callees' built-in uas keeps each call 4 s after its BYE
        done
    done
    for n in $HOSTS; do
        if [[ -n "${ramping[$n]}" ]] && (( 2 * ${failures[$n]:-0} > ROUNDS )); then ramping[$n]=""; fi
    done
    unset failures
    any=""; for n in $HOSTS; do [[ -n "${ramping[$n]}" ]] && any=1; done
    [[ -n "$any" ]] || break
done
for n in $HOSTS; do
    if grep -q -E ' (WARN|ERROR) ' "$work"/host-"$n"-*.log; then
        echo "== warnings and errors of the $n-host cluster (first 10)"
        cat "$work"/host-"$n"-*.log | grep -m 10 -E ' (WARN|ERROR) ' || true
    fi
done

python3 - "$work/steps.txt" "$STEP_S" <<'PY'
import statistics, sys
step_s, rounds = int(sys.argv[2]), {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=") for kv in line.split())
    done = int(f["ok"]) + int(f["failed"])
    f["passed"] = int(f["failed"]) * 1000 < max(done, 1) and done >= 0.95 * int(f["offered"]) \
        and float(f["seconds"]) <= 1.1 * step_s + 1
    rounds.setdefault((f["hosts"], f["offered"]), []).append(f)
# A step of several rounds passes when most of its rounds passed; its figures are the
# medians of its passing rounds (the machine is shared: one round can be unlucky).
steps = []
for (hosts, offered), runs in rounds.items():
    ok_runs = [f for f in runs if f["passed"]]
    median = lambda key: statistics.median(float(f[key]) for f in ok_runs)
    step = {"hosts": hosts, "offered": offered, "passed": 2 * len(ok_runs) > len(runs)}
    if ok_runs:
        step.update(rate=str(round(median("rate"))), cpu_ms_per_call=str(median("cpu_ms_per_call")))
        rates = " ".join(f["cpu_ms_per_call"] for f in runs)
        print(f"hosts={hosts} offered={offered} passed {len(ok_runs)}/{len(runs)} cpu_ms_per_call per round: {rates}")
    steps.append(step)
passing = [f for f in steps if f["passed"]]
most = max((int(f["hosts"]) for f in passing), default=0)
best = max((f for f in passing if int(f["hosts"]) == most), key=lambda f: int(f["rate"]), default=None)
# The single host compared at the same offered rate (the CPU per call falls as the rate
# rises: fixed costs spread), else at its best.
single = [f for f in passing if f["hosts"] == "1"]
same = [f for f in single if best and f["offered"] == best["offered"]]
one = (same or sorted(single, key=lambda f: int(f["rate"]))[-1:] or [None])[0]
cps = int(best["rate"]) if best else 0
cpu = float(best["cpu_ms_per_call"]) if best else 0.0
single_cpu = float(one["cpu_ms_per_call"]) if one else 0.0
if single_cpu:
    print(f"sharing adds {100 * (cpu / single_cpu - 1):.0f} % host CPU per call at {best['offered']} calls offered")
    # The same, turn by turn: each round's sizes ran a minute apart.
    by_round = lambda hosts: {f["round"]: float(f["cpu_ms_per_call"])
                              for f in rounds.get((hosts, best["offered"]), []) if f["passed"]}
    many, alone_ = by_round(best["hosts"]), by_round("1")
    paired = [100 * (many[r] / alone_[r] - 1) for r in sorted(many) if r in alone_]
    if paired:
        print("side by side, round by round: " + ", ".join(f"{p:+.0f} %" for p in paired)
              + f" (median {statistics.median(paired):+.0f} %)")
# The same with each host as loaded as the single one: a host's CPU per call falls as
# its rate rises, so at equal total rates the comparison also counts three hosts each
# running a third of the calls less efficiently.
if best and most > 1:
    # Within 1 %: RATES="267 800" gives 2,670 calls for a third of 8,000.
    per_host_offered = int(best["offered"]) / most
    alone = [f for f in single if abs(int(f["offered"]) - per_host_offered) <= per_host_offered / 100]
    if alone:
        alone_cpu = float(alone[0]["cpu_ms_per_call"])
        print(f"at equal load per host ({most} hosts at {best['rate']}/s against one at {alone[0]['rate']}/s): "
              f"{cpu:.3f} against {alone_cpu:.3f} ms per call, {100 * (cpu / alone_cpu - 1):+.0f} %")
print(f"cluster hosts={most} cps={cps} cpu_ms_per_call={cpu:.3f} single_host_cpu_ms_per_call={single_cpu:.3f}")
PY
