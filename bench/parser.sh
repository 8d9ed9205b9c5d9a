#!/usr/bin/env bash
# The parser figure of the README (Design, "Parsing"): CPU per batch element
# of our hand-written reader against nlohmann/json's DOM parse.
#
#   bench/parser.sh [--rounds N] [--min-ms MS]
#
# Compiles bench/parser_bench.cpp with the core's parser (src/core/response.cpp,
# json_lenient.cpp, errors.cpp) at -O2, as the extension is built, into
# build/bench/; starts the emulator on 127.0.0.1; fetches one real
# /carrier_batch answer of 1000 distinct numbers (one in a hundred a -4); and
# times both parsers on those bytes, alternating, --rounds N times (default
# 21) for at least --min-ms MS each (default 200).  Prints both medians per
# element and their ratio, and PASS when the hand-written reader is the
# faster (exit 0), FAIL otherwise (exit 1); 2 when the run itself broke.
# Needs g++ and nlohmann/json (scripts/install-deps.sh installs both); no
# PostgreSQL.  About 15 s.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"

ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds|--min-ms)
            [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
            case "$2" in ''|*[!0-9]*|0) echo "$1 needs a whole number above 0" >&2; exit 2 ;; esac
            ARGS+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

BIN="$ROOT/build/bench"
mkdir -p "$BIN"
TMP="$(mktemp -d -t qxt-parser.XXXXXX)"
trap 'stop_emulator; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "compiling bench/parser_bench.cpp (-O2)"
if ! g++ -std=c++17 -O2 -g -Wall -Wextra -Wno-unused-parameter -Isrc/core \
        -o "$BIN/parser_bench" bench/parser_bench.cpp \
        src/core/response.cpp src/core/json_lenient.cpp src/core/errors.cpp \
        2>"$TMP/compile.log"; then
    cat "$TMP/compile.log" >&2
    exit 2
fi

start_emulator "$TMP" || exit 2
"$PY" - "$QXT_EMU_URL" "$TMP/batch.json" <<'EOF' || { warn "could not fetch a batch answer"; exit 2; }
import json, sys, urllib.request
url, out = sys.argv[1], sys.argv[2]
key = "0123456789abcdef0123456789abcdef"          # the emulator's prepaid account
# 1000 distinct numbers over several prefixes (so every carrier and area
# occurs); every hundredth ends in 0000 and is answered -4, as real input has
# some numbers the vendor knows nothing of.
prefixes = ["139", "135", "186", "133", "189", "192", "165", "177", "150", "131"]
nums = []
for i in range(1000):
    p = prefixes[i % len(prefixes)]
    nums.append(p + ("%04d0000" % i if i % 100 == 99 else "%08d" % (i * 7919 % 10 ** 8)))
assert len(set(nums)) == 1000
body = json.dumps({"ApiKey": key, "PhoneNumbers": nums}).encode()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(url + "/carrier_batch", data=body,
                             headers={"Content-Type": "application/json"}, method="POST")
with opener.open(req, timeout=30) as r:
    data = r.read()
ans = json.loads(data)
assert isinstance(ans, list) and len(ans) == 1000, "not a 1000-element answer"
open(out, "wb").write(data)
EOF
stop_emulator

"$BIN/parser_bench" "$TMP/batch.json" "${ARGS[@]}"
