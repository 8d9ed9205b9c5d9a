#!/usr/bin/env bash
# Runs a test binary with DNS broken on purpose and contained: a new user,
# network and mount namespace (no interface but loopback), with
# /etc/resolv.conf replaced by "nameserver 127.0.0.1" (where nothing
# listens, unless a test binds port 53 in the namespace to make lookups
# hang) and a 2-second resolver timeout, tried once.  No query leaves the
# machine; the machine's resolver is never asked.
# Usage: dns_sandbox.sh BINARY [ARGS...]
set -euo pipefail
bin="$1"; shift
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' >"$tmp/resolv.conf"
ns=(unshare --net --mount)
[ "$(id -u)" -eq 0 ] || ns=(unshare --user --map-root-user --net --mount)
exec "${ns[@]}" bash -c '
  set -e
  ip link set lo up
  mount --bind "$1" /etc/resolv.conf
  shift
  QXT_DNS_SANDBOX=1 exec "$@"
' sandbox "$tmp/resolv.conf" "$bin" "$@"
