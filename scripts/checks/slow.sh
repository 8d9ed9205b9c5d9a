#!/usr/bin/env bash
# make check-slow: the slow robustness checks in sequence, one after the
# other (they would skew each other's timings if run at once):
#
#   fuzz       scripts/checks/fuzz.sh       (QXT_FUZZ_SECONDS per fuzzer, default 300)
#   valgrind   scripts/checks/valgrind.sh   (pg_regress with every backend under Memcheck)
#   load       scripts/checks/load.sh       (pgbench, QXT_LOAD_SECONDS, default 60)
#
# Each check's own output is shown as it runs; the end is one table and the
# combined "N passed, M failed" line (the sums of the checks' own lines).
# Exit status 1 when any check failed.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

LOGDIR="$ROOT/build/logs"
mkdir -p "$LOGDIR"
t0=$(now_s)
declare -A P F T
names=(fuzz valgrind load)
for name in "${names[@]}"; do
    start=$(now_s)
    say "check-slow: $name (output also in build/logs/check-$name.out)"
    bash "scripts/checks/$name.sh" </dev/null 2>&1 | tee "$LOGDIR/check-$name.out"
    rc=${PIPESTATUS[0]}
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGDIR/check-$name.out" | tail -n 1)"
    if [ -n "$line" ]; then
        P[$name]="$(awk '{print $1}' <<<"$line")"
        F[$name]="$(awk '{print $3}' <<<"$line")"
    else
        P[$name]=0; F[$name]=1
    fi
    [ "$rc" -ne 0 ] && [ "${F[$name]}" -eq 0 ] && F[$name]=1
    T[$name]="$(( $(now_s) - start ))s"
done

tp=0 tf=0
echo
printf '%-10s %7s %7s %7s\n' check passed failed time
for name in "${names[@]}"; do
    printf '%-10s %7s %7s %7s\n' "$name" "${P[$name]}" "${F[$name]}" "${T[$name]}"
    tp=$((tp + P[$name])); tf=$((tf + F[$name]))
done
printf '%-10s %7s %7s %7s\n' total "$tp" "$tf" "$(( $(now_s) - t0 ))s"
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ]
