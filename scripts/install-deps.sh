#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test and demo
# qxt_portability.  Idempotent: when everything is present it only checks
# (no apt-get update, no network).  Uses sudo when not run as root.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    # build
    build-essential g++ make cmake pkg-config curl ca-certificates python3 patch
    postgresql-15 postgresql-server-dev-15 postgresql-common postgresql-contrib
    libcurl4-openssl-dev nlohmann-json3-dev libgtest-dev
    # test fixtures: a throwaway certificate for the HTTPS emulator
    openssl
    # the Debian package (scripts/build-deb.sh, scripts/test-package.sh)
    debhelper dpkg-dev postgresql-server-dev-all
    # fuzzing (libFuzzer + sanitizer runtimes)
    clang-14 libclang-rt-14-dev
    # later benchmarks and tests
    postgresql-plpython3-15 python3-requests postgresql-15-cron
    valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    if [ "$status" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    say "dependencies: all ${#PACKAGES[@]} packages present"
    exit 0
fi

say "dependencies: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# On a fresh machine apt knows no package until the lists are fetched.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
    --no-install-recommends "${missing[@]}" </dev/null
say "dependencies: done"
