#!/bin/sh
# Prints, one per line, every vendor key the regression tests use: each
# 32-character quoted literal of [0-9A-Za-z_] in sql/*.sql.  00_setup loads
# them into qxt_regress_keys, so qxt_try (and the log checks) can prove that
# no error text or log line holds any of them.  The key itself cannot be read
# back from the server: SHOW qxt.apikey prints a mask, for everyone.
cd "$(dirname "$0")/../.." || exit 1
grep -ohE "'[0-9A-Za-z_]{32}'" sql/*.sql | tr -d "'" | sort -u
