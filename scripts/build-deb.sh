#!/usr/bin/env bash
# Builds the Debian package postgresql-15-qxt-portability from this
# checkout, the Debian way (dpkg-buildpackage, debian/rules with
# pg_buildext), on Debian 12 as root or with sudo, without questions:
#
#   scripts/build-deb.sh
#
# - installs what the build needs: dpkg-dev and build-essential, then the
#   Build-Depends of debian/control that dpkg-checkbuilddeps reports as
#   missing (apt-get update only when something is missing);
# - copies the checkout's files (tracked ones plus new, not ignored ones,
#   as they are in the work tree) to build/deb/qxt-portability-VERSION/ and
#   builds there, so the checkout stays clean;
# - leaves the packages in build/deb/ and prints the main .deb's path as the
#   last line of stdout.  The build log is build/logs/deb-build.log.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

LOGDIR="$ROOT/build/logs"
OUT="$ROOT/build/deb"
mkdir -p "$LOGDIR"
LOG="$LOGDIR/deb-build.log"
: >"$LOG"

apt_install() {
    say "build-deb: installing $* (log: build/logs/deb-build.log)"
    if [ -z "${APT_UPDATED:-}" ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q \
            -o DPkg::Lock::Timeout=300 >>"$LOG" 2>&1 </dev/null
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >>"$LOG" 2>&1 </dev/null
}

# 1. The tools that read debian/control.
missing=()
for p in dpkg-dev build-essential; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] ||
        missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && ! apt_install "${missing[@]}"; then
    warn "build-deb: could not install ${missing[*]}; last lines of build/logs/deb-build.log:"
    tail -n 30 "$LOG" >&2
    exit 1
fi

# 2. The source tree, copied as the checkout has it.
version="$(dpkg-parsechangelog -l debian/changelog -S Version)"
source="$(dpkg-parsechangelog -l debian/changelog -S Source)"
src="$OUT/$source-$version"
rm -rf "$OUT"
mkdir -p "$src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            [ -e "$f" ] && printf '%s\0' "$f"    # skip files deleted in the work tree
        done | tar -C "$ROOT" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$ROOT" --exclude='./build' --exclude='./build-*' -cf - . | tar -C "$src" -xf -
fi
say "build-deb: $source $version, source copied to build/deb/$source-$version"

# 3. Build-Depends that are missing.
unmet="$(cd "$src" && dpkg-checkbuilddeps 2>&1 >/dev/null | sed -n 's/.*Unmet build dependencies: //p' || true)"
if [ -n "$unmet" ]; then
    # "a (>= 1) | b, c" -> "a c": the first alternative, without versions.
    pkgs=()
    IFS=',' read -r -a deps <<<"$(sed -E 's/\([^)]*\)//g; s/\|[^,]*//g' <<<"$unmet" | tr -s ' ' ',')"
    for d in "${deps[@]}"; do
        d="${d// /}"
        [ -n "$d" ] && pkgs+=("${d%%:*}")
    done
    if ! apt_install "${pkgs[@]}"; then
        warn "build-deb: could not install the build dependencies; last lines of build/logs/deb-build.log:"
        tail -n 30 "$LOG" >&2
        exit 1
    fi
fi

# 4. The build: binary packages only, unsigned, two jobs.
say "build-deb: dpkg-buildpackage (log: build/logs/deb-build.log)"
start=$(now_s)
if ! (cd "$src" && dpkg-buildpackage -b -us -uc -j2) >>"$LOG" 2>&1 </dev/null; then
    warn "build-deb: dpkg-buildpackage failed; last 60 lines of build/logs/deb-build.log:"
    tail -n 60 "$LOG" >&2
    exit 1
fi
arch="$(dpkg-architecture -qDEB_HOST_ARCH)"
deb="$OUT/postgresql-$PG_MAJOR-qxt-portability_${version}_${arch}.deb"
if [ ! -f "$deb" ]; then
    warn "build-deb: the build finished but $deb is missing; build/deb/ has:"
    ls -l "$OUT" >&2
    exit 1
fi
say "build-deb: built in $(( $(now_s) - start ))s:"
(cd "$OUT" && ls -1 ./*.deb) | sed 's|^\./|    build/deb/|' >&2
echo "$deb"
