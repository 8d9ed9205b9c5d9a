#!/bin/sh
# chown_other.sh FILE: gives FILE to a user other than the database server's
# (uid 65534, "nobody"), for the key-file tests (17_keyfile).  Needs root,
# directly or through sudo (as scripts/test.sh uses it).
if [ "$(id -u)" -eq 0 ]; then
    exec chown 65534 "$1"
fi
exec sudo -n chown 65534 "$1"
