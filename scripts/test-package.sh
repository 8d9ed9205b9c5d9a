#!/usr/bin/env bash
# The Debian package, tested as a DBA would use it:
#
#   scripts/test-package.sh
#
#   1. build      scripts/build-deb.sh builds postgresql-15-qxt-portability
#   2. install    apt-get installs the .deb (its Depends must be satisfiable)
#   3. files      the extension's files on disk belong to the package
#   4. regress    the package's autopkgtest, debian/tests/installcheck, in the
#                 built source tree: pg_buildext installcheck runs the whole
#                 regression suite in a throwaway cluster against the
#                 installed package, and "make installcheck" starts the
#                 emulator fixtures itself (one count per regression test)
#   5. removal    dpkg --purge removes the package and every file of it
#
# A source build that "make install" had put in place before (the files the
# package replaced) is installed again at the end, so whatever runs next
# still finds it.  Runs as root or with sudo; no questions.  Output: one line
# per step on stderr, the pg_regress output in build/logs/package-regress.log,
# and a last line "N passed, M failed".  Exit status 1 if anything failed.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
PKG="postgresql-$PG_MAJOR-qxt-portability"
LIBDIR="$("$PG_CONFIG" --pkglibdir)"
SHAREDIR="$("$PG_CONFIG" --sharedir)"
SO="$LIBDIR/qxt_portability.so"
CONTROL="$SHAREDIR/extension/qxt_portability.control"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); say "package: ok   $*"; }
fail() { FAILED=$((FAILED + 1)); warn "package: FAIL $*"; }
finish() {
    if installed; then purge >>"$LOGDIR/package-install.log" 2>&1; fi
    restore_source_build
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true)" = "install ok installed" ]
}

purge() {
    $SUDO env DEBIAN_FRONTEND=noninteractive dpkg --purge "$PKG" </dev/null
}

# A package left behind by an interrupted run would hide what this run does.
if installed; then
    say "package: removing $PKG left installed by an earlier run"
    purge >>"$LOGDIR/package-install.log" 2>&1
fi
# Was there a source build ("make install") in place?
SOURCE_BUILD=0
[ -f "$SO" ] && SOURCE_BUILD=1

restore_source_build() {
    [ "$SOURCE_BUILD" -eq 1 ] || return 0
    [ -f "$SO" ] && return 0
    say "package: installing the source build again (make install; log: build/logs/package-reinstall.log)"
    if ! run_logged "$LOGDIR/package-reinstall.log" bash -c \
            'make -j2 PG_CONFIG="$1" && $2 make install PG_CONFIG="$1"' _ "$PG_CONFIG" "$SUDO"; then
        warn "package: could not install the source build again"
    fi
}
trap 'if installed; then purge >/dev/null 2>&1; fi; restore_source_build' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. build
say "package: building the .deb (scripts/build-deb.sh; log: build/logs/deb-build.log)"
deb="$(bash scripts/build-deb.sh </dev/null | tail -n 1)"
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    fail "build: scripts/build-deb.sh made no .deb"
    finish
fi
pass "build: ${deb#"$ROOT"/}"
SRC="$(dirname "$deb")/$(dpkg-parsechangelog -l debian/changelog -S Source)-$(dpkg-parsechangelog -l debian/changelog -S Version)"

# 2. install, the README's way
say "package: apt-get install ./${deb#"$ROOT"/} (log: build/logs/package-install.log)"
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "$deb" </dev/null >>"$LOGDIR/package-install.log" 2>&1 &&
        installed; then
    pass "install: $PKG $(dpkg-query -W -f='${Version}' "$PKG")"
else
    tail -n 30 "$LOGDIR/package-install.log" >&2
    fail "install: apt-get could not install $PKG"
    finish
fi

# 3. the files on disk are the package's
owned=1
for f in "$SO" "$CONTROL" \
         "$SHAREDIR/extension/qxt_portability--1.2.sql" \
         "$SHAREDIR/extension/qxt_portability--1.1.sql" \
         "$SHAREDIR/extension/qxt_portability--1.0.sql" \
         "$SHAREDIR/extension/qxt_portability--1.0--1.1.sql" \
         "$SHAREDIR/extension/qxt_portability--1.1--1.2.sql"; do
    owner="$(dpkg-query -S "$f" 2>/dev/null | cut -d: -f1)"
    if [ ! -f "$f" ] || [ "$owner" != "$PKG" ]; then
        warn "package: $f ${owner:+belongs to $owner}${owner:-is not from any package}"
        owned=0
    fi
done
if [ "$owned" -eq 1 ] && cmp -s "$SO" <(dpkg-deb --fsys-tarfile "$deb" |
        tar -xOf - ".$SO"); then
    pass "files: the .so, the control file and the three scripts come from $PKG"
else
    fail "files: the installed extension is not the package's"
fi

# 4. the regression suite against the installed package (autopkgtest style)
say "package: debian/tests/installcheck in build/deb/$(basename "$SRC") (log: build/logs/package-regress.log)"
# A port of its own: pg_virtualenv would otherwise take the first free one
# after 5432, which another throwaway cluster starting at the same moment
# on this machine may take too.
PGPORT="$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
(cd "$SRC" && PGPORT="$PGPORT" debian/tests/installcheck </dev/null) \
    >"$LOGDIR/package-regress.log" 2>&1
rc=$?
all="$(grep -oE 'All [0-9]+ tests passed' "$LOGDIR/package-regress.log" | tail -n 1)"
ofn="$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$LOGDIR/package-regress.log" | tail -n 1)"
total=""; failed=""
if [ -n "$all" ]; then
    total="$(grep -oE '[0-9]+' <<<"$all")"; failed=0
elif [ -n "$ofn" ]; then
    failed="$(awk '{print $1}' <<<"$ofn")"; total="$(awk '{print $3}' <<<"$ofn")"
fi
grep -E '^(test| ) .*\.\.\. |^(ok|not ok) ' "$LOGDIR/package-regress.log" >&2
if [ -z "$total" ]; then
    tail -n 60 "$LOGDIR/package-regress.log" >&2
    fail "regress: pg_buildext installcheck gave no pg_regress summary (exit $rc)"
else
    if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        sed -n '/^\*\*\*\* .*regression.diffs/,$p' "$LOGDIR/package-regress.log" | head -n 200 >&2
        [ "$failed" -eq 0 ] && failed=1
    fi
    if ! grep -q "^### PostgreSQL $PG_MAJOR installcheck ###" "$LOGDIR/package-regress.log"; then
        warn "package: pg_buildext did not test the installed PostgreSQL $PG_MAJOR package"
        failed=$((failed + 1))
    fi
    PASSED=$((PASSED + total - failed))
    FAILED=$((FAILED + failed))
    say "package: regress: $((total - failed)) of $total regression tests passed against the installed package"
fi

# 5. removal
say "package: dpkg --purge $PKG"
if purge >>"$LOGDIR/package-install.log" 2>&1 && ! installed &&
        [ ! -e "$SO" ] && [ ! -e "$CONTROL" ] &&
        [ -z "$(ls "$SHAREDIR"/extension/qxt_portability--*.sql 2>/dev/null)" ]; then
    pass "removal: the package and its files are gone"
else
    fail "removal: $PKG or some of its files are still there"
fi
finish
