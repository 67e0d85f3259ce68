#!/usr/bin/env bash
# A scratch PostgreSQL cluster for the tests and benches: its own directory, its own port
# on loopback, no password (trust on 127.0.0.1 only), gone with `stop`.
#
#   scripts/postgres.sh start DIR [PORT]   prints the URL to pass as --store
#   scripts/postgres.sh stop DIR
#
# PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user.
set -euo pipefail

die() { printf 'scripts/postgres.sh: %s\n' "$*" >&2; exit 1; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[[ -x "$bin/initdb" ]] || die "no PostgreSQL server found (Debian package postgresql)"

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

command=${1:-}
dir=${2:-}
[[ -n "$command" && -n "$dir" ]] || die "usage: start DIR [PORT] | stop DIR"

case "$command" in
start)
    port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    as_owner test -w "$dir" || die "the cluster's owner cannot write $dir (are its parent directories searchable?)"
    if [[ ! -f "$dir/PG_VERSION" ]]; then
        as_owner "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$dir.initdb.log" 2>&1 \
            || die "initdb failed: $(tail -n5 "$dir.initdb.log")"
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
        || die "the server did not start: $(tail -n5 "$dir/server.log")"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true
    ;;
*)
    die "unknown command $command"
    ;;
esac
