#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own cluster in a temporary folder, listening on
# 127.0.0.1 on a free port, with a database and a password. Nothing else on the machine changes
# (no system cluster is created or started; the packages are installed if they are missing).
#
#   eval "$(.ci/postgres.sh start)"     # exports KIT_TEST_POSTGRES_URL and KIT_TEST_POSTGRES_DIR
#   .ci/postgres.sh stop [DIR]          # stops the cluster and deletes DIR (default: $KIT_TEST_POSTGRES_DIR)
#   .ci/postgres.sh run CMD [ARGS...]   # start, run CMD with the URL exported, stop; exits with CMD's code
#
# The URL is postgresql+psycopg2://kit:<password>@127.0.0.1:<port>/kit_test, and `kit` may create
# databases (the tests make one per test). Messages go to stderr; `start` prints only the exports.
# On GitHub Actions, `start` also appends the variables to $GITHUB_ENV for the following steps.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root (or sudo) to run: $*"
        return 1
    fi
}

find_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    # (`return 0`, not `return`: inside the EXIT trap a bare return repeats the script's exit code)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; fi
    return 0
}

install_postgres() {
    log "PostgreSQL not found: installing Debian's postgresql package"
    # The package would create and start a system cluster on port 5432: this one needs none.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        as_root mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# initdb and the server refuse to run as root: run them as the `postgres` user when we are root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local bin dir password port url attempt
    bin=$(find_bin)
    if [ -z "$bin" ]; then
        install_postgres
        bin=$(find_bin)
        [ -n "$bin" ] || { log "installing postgresql did not provide initdb"; exit 1; }
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        log "running as root, but there is no 'postgres' user to own the cluster"
        exit 1
    fi

    dir=$(mktemp -d "${TMPDIR:-/tmp}/kit-postgres.XXXXXX")
    chmod 755 "$dir"
    mkdir "$dir/data" "$dir/run"
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" >"$dir/password"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
    chmod 700 "$dir/data"
    chmod 600 "$dir/password"

    log "initialising a cluster in $dir ($bin)"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/password" --auth-host=scram-sha-256 \
        --auth-local=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }

    # A free port can be taken between the check and the start: try a few.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c fsync=off -c full_page_writes=off" \
            start >&2; then
            break
        fi
        log "start on port $port failed (attempt $attempt); server log:"
        tail -n 5 "$dir/server.log" >&2 || true
        [ "$attempt" = 5 ] && exit 1
    done

    as_owner "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >&2 <<SQL
CREATE ROLE kit LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE kit_test OWNER kit;
SQL
    url="postgresql+psycopg2://kit:$password@127.0.0.1:$port/kit_test"
    log "PostgreSQL on 127.0.0.1:$port, database kit_test (stop: .ci/postgres.sh stop $dir)"
    echo "export KIT_TEST_POSTGRES_URL='$url'"
    echo "export KIT_TEST_POSTGRES_DIR='$dir'"
    if [ -n "${GITHUB_ENV:-}" ]; then
        { echo "KIT_TEST_POSTGRES_URL=$url"; echo "KIT_TEST_POSTGRES_DIR=$dir"; } >>"$GITHUB_ENV"
    fi
}

stop() {
    local dir=${1:-${KIT_TEST_POSTGRES_DIR:-}} bin
    [ -n "$dir" ] || { log "usage: postgres.sh stop DIR (or set KIT_TEST_POSTGRES_DIR)"; exit 2; }
    case "$dir" in */kit-postgres.*) ;; *) log "refusing to delete $dir: not made by postgres.sh"; exit 2 ;; esac
    bin=$(find_bin)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || log "pg_ctl stop failed"
    fi
    rm -rf "$dir"
}

command=${1:-}
shift || true
case "$command" in
    start) start ;;
    stop) stop "$@" ;;
    run)
        [ $# -gt 0 ] || { log "usage: postgres.sh run CMD [ARGS...]"; exit 2; }
        exports=$(start) || exit 1
        eval "$exports"
        trap 'set +e; stop "$KIT_TEST_POSTGRES_DIR"' EXIT
        status=0
        "$@" || status=$?
        exit "$status"
        ;;
    *)
        echo "usage: .ci/postgres.sh start | stop [DIR] | run CMD [ARGS...]" >&2
        exit 2
        ;;
esac
