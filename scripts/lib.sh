# Shared helpers for scripts/*.sh.  Source it; do not run it.
#
#   . "$(dirname "$0")/lib.sh"
#
# Sets ROOT (the repository root), SUDO ("" as root, else "sudo"), PY (Debian's
# python3 when present), PG_CONFIG (PostgreSQL 15's pg_config) and makes sure
# loopback traffic never goes through a proxy.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

# python3 on PATH may be a pyenv shim; the emulator is written for Debian's.
if [ -x /usr/bin/python3 ]; then
    PY=/usr/bin/python3
else
    PY="$(command -v python3 || echo python3)"
fi

PG_MAJOR=15
if [ -z "${PG_CONFIG:-}" ]; then
    if [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" ]; then
        PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
    else
        PG_CONFIG=pg_config
    fi
fi

# Every test talks to 127.0.0.1 only: never let a proxy setting in the
# environment send that traffic elsewhere (libcurl, urllib and curl all
# honour no_proxy).
_loopback="127.0.0.1,localhost,::1"
export no_proxy="${no_proxy:+$no_proxy,}$_loopback"
export NO_PROXY="${NO_PROXY:+$NO_PROXY,}$_loopback"

# A UTF-8 locale whatever the machine's default, so the clusters we create
# are UTF8 and psql lays out the vendor's Chinese text the same everywhere
# (Debian always has C.UTF-8).
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset LANGUAGE
export PGCLIENTENCODING=UTF8

# Options for every throwaway cluster: PostgreSQL 15, in a temporary
# directory even as root (no clash with /etc/postgresql/15/regress or with
# another run), UTF8.
PG_VIRTUALENV_OPTS=(-t -v "$PG_MAJOR" -c "--locale=C.UTF-8")

# Every throwaway cluster on a port of its own.  pg_virtualenv takes the
# first port after 5432 that its own (empty) configuration does not list,
# so two clusters started at the same moment on one machine (two suites,
# two checkouts) both pick 5432 and one fails with "Port conflict".  A port
# the kernel just handed out is free (a PGPORT of the caller's, which may
# name a real server, is not used).
pg_virtualenv() {
    local port
    port="$("${PY:-python3}" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    PGPORT="$port" command pg_virtualenv "$@"
}

# Colour-free, timestamp-free log lines on stderr.
say() { printf '==> %s\n' "$*" >&2; }
warn() { printf '!!! %s\n' "$*" >&2; }

# now_s: seconds since the epoch (integer).
now_s() { date +%s; }

# run_logged LOGFILE CMD...: runs CMD with all output in LOGFILE; on failure
# prints the last lines of the log.  Returns CMD's status.
run_logged() {
    local log="$1"; shift
    local rc=0
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        warn "failed (exit $rc): $*"
        warn "last 60 lines of $log:"
        tail -n 60 "$log" >&2
    fi
    return "$rc"
}

# ---------------------------------------------------------------------------
# The vendor emulator
# ---------------------------------------------------------------------------
EMU_PID=""
EMU_PORT=""

# start_emulator WORKDIR [EXTRA ARGS...]: starts test/emulator/qxt_emulator.py
# on a free loopback port, waits until /_emu/health answers, and exports
# QXT_EMU_URL.  Its output goes to WORKDIR/emulator.log.
start_emulator() {
    local dir="$1"; shift
    local portfile="$dir/emu.port"
    rm -f "$portfile"
    "$PY" "$ROOT/test/emulator/qxt_emulator.py" --host 127.0.0.1 --port 0 \
        --port-file "$portfile" --quiet "$@" \
        </dev/null >"$dir/emulator.log" 2>&1 &
    EMU_PID=$!
    local i
    for i in $(seq 1 200); do          # up to ~20 s
        if ! kill -0 "$EMU_PID" 2>/dev/null; then
            warn "the emulator exited at start:"
            cat "$dir/emulator.log" >&2
            EMU_PID=""
            return 1
        fi
        if [ -s "$portfile" ]; then
            EMU_PORT="$(tr -dc '0-9' <"$portfile")"
            if [ -n "$EMU_PORT" ] && "$PY" - "$EMU_PORT" <<'EOF' 2>/dev/null
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open("http://127.0.0.1:%s/_emu/health" % sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
            then
                export QXT_EMU_URL="http://127.0.0.1:$EMU_PORT"
                return 0
            fi
        fi
        sleep 0.1
    done
    warn "the emulator did not answer /_emu/health in time"
    cat "$dir/emulator.log" >&2
    stop_emulator
    return 1
}

# stop_emulator: stops the emulator started by start_emulator (by its pid).
stop_emulator() {
    if [ -n "$EMU_PID" ]; then
        kill "$EMU_PID" 2>/dev/null || true
        local i
        for i in $(seq 1 50); do
            kill -0 "$EMU_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
        EMU_PID=""
    fi
}

# start_fixtures WORKDIR: the emulator (start_emulator), plus what the
# network tests need, all on 127.0.0.1: a second emulator serving HTTPS with
# a throwaway self-signed certificate, and a listener that never accepts
# (for connect timeouts).  Exports QXT_EMU_URL, QXT_EMU_TLS_URL, QXT_EMU_CA
# and QXT_BLACKHOLE_URL.
TLS_EMU_PID=""
BH_PID=""
start_fixtures() {
    local dir="$1"
    start_emulator "$dir" || return 1
    local tls="$dir/tls"
    mkdir -p "$tls"
    chmod 755 "$dir" "$tls"
    if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1" \
            -keyout "$tls/key.pem" -out "$tls/cert.pem" >"$tls/openssl.log" 2>&1; then
        warn "could not make a test certificate:"; cat "$tls/openssl.log" >&2
        return 1
    fi
    chmod 644 "$tls/cert.pem" "$tls/key.pem"
    rm -f "$tls/port" "$dir/bh.port"
    "$PY" "$ROOT/test/emulator/qxt_emulator.py" --host 127.0.0.1 --port 0 \
        --port-file "$tls/port" --quiet --tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem" \
        </dev/null >"$dir/emulator-tls.log" 2>&1 &
    TLS_EMU_PID=$!
    "$PY" "$ROOT/test/emulator/blackhole.py" --port-file "$dir/bh.port" \
        </dev/null >"$dir/blackhole.log" 2>&1 &
    BH_PID=$!
    local i
    for i in $(seq 1 100); do
        [ -s "$tls/port" ] && [ -s "$dir/bh.port" ] && break
        sleep 0.1
    done
    if [ ! -s "$tls/port" ] || [ ! -s "$dir/bh.port" ]; then
        warn "the HTTPS emulator or the blackhole listener did not start"
        cat "$dir/emulator-tls.log" "$dir/blackhole.log" >&2
        return 1
    fi
    export QXT_EMU_TLS_URL="https://127.0.0.1:$(tr -dc '0-9' <"$tls/port")"
    export QXT_EMU_CA="$tls/cert.pem"
    export QXT_BLACKHOLE_URL="http://127.0.0.1:$(tr -dc '0-9' <"$dir/bh.port")"
}

# stop_fixtures: stops everything start_fixtures started.
stop_fixtures() {
    local p
    for p in "$TLS_EMU_PID" "$BH_PID"; do
        [ -n "$p" ] && { kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; } || true
    done
    TLS_EMU_PID=""; BH_PID=""
    stop_emulator
}

# python3_shim DIR: puts a python3 -> $PY link in DIR/bin and that directory
# first on PATH, so scripts with "#!/usr/bin/env python3" (emuctl) run with
# the same interpreter as the emulator.
python3_shim() {
    mkdir -p "$1/bin"
    ln -sf "$PY" "$1/bin/python3"
    export PATH="$1/bin:$PATH"
}
