# Throwaway PostgreSQL 15 cluster for scripts/checks/*.sh.  Source it after
# scripts/lib.sh; do not run it.
#
#   cluster_init DIR             initdb in DIR/data/15/regress (as the
#                                postgres OS user when run as root; DIR is
#                                handed to it).  The server log is
#                                DIR/log/postgresql-15-regress.log: the layout
#                                of "pg_virtualenv -t", which 08_security
#                                relies on to find the log
#                                (data_directory/../../../log/…)
#   cluster_start DIR [PREFIX…]  starts the postmaster, optionally under a
#                                wrapper command (e.g. valgrind …), listening
#                                on a Unix socket in DIR/sock and on
#                                localhost (08_security connects with
#                                host=localhost), on a port from a free-port
#                                probe; waits until it
#                                accepts connections (CLUSTER_WAIT seconds,
#                                default 120); exports PGHOST, PGPORT, PGUSER,
#                                PGDATABASE=postgres
#   cluster_stop                 fast shutdown, then waits for the postmaster
#   CLUSTER_PID                  the postmaster's pid (the wrapper's, which is
#                                the same process for valgrind)
#
# Extra server settings: CLUSTER_CONF (array of "name = value" lines), added
# to postgresql.conf by cluster_init (not as -c options: a reload would then
# complain that the file's shared_buffers differs from the running one).

PG_BIN="$("$PG_CONFIG" --bindir)"
CLUSTER_DIR=""
CLUSTER_DATA=""
CLUSTER_LOG=""
CLUSTER_PID=""
CLUSTER_LAUNCHER=""
CLUSTER_CONF=()

# as_pg CMD…: runs CMD as the postgres OS user when we are root.
# (setpriv execs the command itself, so a pid taken from "as_pg … &" is
# the command's, unlike runuser, which stays as a parent.)
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        HOME="$CLUSTER_DIR" exec_as_pg "$@"
    else
        "$@"
    fi
}
exec_as_pg() {
    if command -v setpriv >/dev/null; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        runuser -u postgres -- "$@"
    fi
}

# free_port: a TCP port nobody listens on right now (127.0.0.1).
free_port() {
    "$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cluster_paths() {
    CLUSTER_DIR="$1"
    CLUSTER_DATA="$1/data/$PG_MAJOR/regress"
    CLUSTER_LOG="$1/log/postgresql-$PG_MAJOR-regress.log"
}

cluster_init() {
    cluster_paths "$1"
    mkdir -p "$CLUSTER_DIR/sock" "$CLUSTER_DIR/log" "$CLUSTER_DIR/data/$PG_MAJOR"
    chmod 755 "$CLUSTER_DIR"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$CLUSTER_DIR"
    as_pg "$PG_BIN/initdb" -D "$CLUSTER_DATA" -U postgres -A trust \
        --locale=C.UTF-8 -E UTF8 --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 || {
        warn "initdb failed:"; cat "$CLUSTER_DIR/initdb.log" >&2; return 1; }
    local line
    for line in "${CLUSTER_CONF[@]}"; do
        printf '%s\n' "$line"
    done >>"$CLUSTER_DATA/postgresql.conf"
}

cluster_start() {
    local dir="$1"; shift
    cluster_paths "$dir"
    local port; port="$(free_port)"
    # exec: the pid we keep is the postmaster's (or the wrapper's, which for
    # valgrind is the same process).
    as_pg bash -c 'cd "$1" && shift && exec "$@"' _ "$dir" "$@" "$PG_BIN/postgres" \
        -D "$CLUSTER_DATA" -p "$port" -c listen_addresses=localhost \
        -c unix_socket_directories="$dir/sock" \
        -c logging_collector=off -c log_min_messages=warning \
        </dev/null >>"$CLUSTER_LOG" 2>&1 &
    local launcher=$!
    CLUSTER_PID=""
    export PGHOST="$dir/sock" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    local i wait="${CLUSTER_WAIT:-120}"
    for i in $(seq 1 $((wait * 5))); do
        if ! kill -0 "$launcher" 2>/dev/null; then
            warn "the postmaster exited at start:"; tail -n 40 "$CLUSTER_LOG" >&2
            return 1
        fi
        # The postmaster's own pid (valgrind's is the same process).
        [ -z "$CLUSTER_PID" ] && [ -s "$CLUSTER_DATA/postmaster.pid" ] &&
            CLUSTER_PID="$(head -n 1 "$CLUSTER_DATA/postmaster.pid" | tr -dc 0-9)"
        if [ -n "$CLUSTER_PID" ] && "$PG_BIN/pg_isready" -q -t 2; then
            CLUSTER_LAUNCHER=$launcher
            return 0
        fi
        sleep 0.2
    done
    CLUSTER_PID="${CLUSTER_PID:-$launcher}"
    CLUSTER_LAUNCHER=$launcher
    warn "the postmaster did not accept connections within ${wait}s"
    tail -n 40 "$CLUSTER_LOG" >&2
    cluster_stop
    return 1
}

# cluster_stop [SECONDS]: SIGINT (fast shutdown), up to SECONDS (default
# 120) to finish, then SIGQUIT, then SIGKILL.
cluster_stop() {
    [ -n "$CLUSTER_PID" ] || return 0
    local i limit="${1:-120}"
    kill -INT "$CLUSTER_PID" 2>/dev/null
    for i in $(seq 1 $((limit * 5))); do
        kill -0 "$CLUSTER_PID" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$CLUSTER_PID" 2>/dev/null; then
        warn "the postmaster did not stop in ${limit}s; sending SIGQUIT"
        kill -QUIT "$CLUSTER_PID" 2>/dev/null
        sleep 5
        kill -KILL "$CLUSTER_PID" 2>/dev/null
    fi
    wait "$CLUSTER_LAUNCHER" 2>/dev/null
    CLUSTER_PID=""
}
