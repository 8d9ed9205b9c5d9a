#!/usr/bin/env python3
"""What valgrind may change in a regress test's output, and nothing more.

Under valgrind every backend runs 20-50 times slower and on valgrind's own
heap, so a few assertions about time and memory can come out false there
although the code is right.  ALLOW names each of them: the test, the result
column (or the label of a line in expanded output), and why valgrind moves
it.  A result file passes when it differs from an expected file of its test
only in allow-listed cells that went from t (expected) to f (result).  Any
other difference fails: another column, another test, another value, f -> t,
a line more or less.

  valgrind_allow.py check ROOT           every ALLOW entry still names a result
                                         column of its test (exit 1 if not,
                                         naming the stale entries)
  valgrind_allow.py judge ROOT RESULTS TEST
                                         compares RESULTS/TEST.out with
                                         ROOT/expected/TEST.out (and TEST_N.out);
                                         exit 0 when identical or only allowed
                                         flips (printed), 1 otherwise (the
                                         first offending lines printed)
  valgrind_allow.py self-test ROOT       proves the two above can fail, on
                                         synthetic files and on the real
                                         expected files (exit 1 if not)
"""

import glob
import os
import re
import shutil
import sys
import tempfile

# (test, column or expanded-output label, why valgrind may turn it false).
# The expected value must be t; the result may be f, or also NULL (shown
# empty) for the entries in MAY_BE_NULL.
ALLOW = [
    ("09_cancel", "cancelled_within_100ms",
     "time from statement_timeout to the statement's end: valgrind slows the"
     " abandon-and-raise path 20-50 times"),
    ("10_memory", "peak_growth_under_128mb",
     "peak RSS: valgrind's own heap and shadow memory count in the backend's"
     " VmHWM"),
    ("10_memory", "no_growth_across_calls",
     "RSS after a call: valgrind's allocator keeps freed blocks"
     " (--freelist-vol) and shadow memory"),
    ("10_memory", "ended_within_1s",
     "time from pg_cancel_backend to the statement's end: valgrind slows the"
     " abandon-and-free path of a third of a million rows"),
    ("15_refresh_progress", "started",
     "a refresh in another session is looked at after a fixed 2 s sleep;"
     " under valgrind it may not have finished a window yet"),
    ("15_refresh_progress", "has_rate",
     "the rate appears with the first committed window (as 'started'); NULL"
     " before it"),
    ("15_refresh_progress", "has_eta",
     "the estimate appears with the first committed window (as 'started');"
     " NULL before it"),
    ("15_refresh_progress", "partly_there",
     "lookups committed by the other session after the 2 s sleep (as"
     " 'started')"),
]

MAY_BE_NULL = {("15_refresh_progress", "has_rate"), ("15_refresh_progress", "has_eta")}

SEPARATOR = re.compile(r"^-+(\+-+)*$")
RECORD = re.compile(r"^-\[ RECORD \d+ \]-*(\+-*)?$")
FOOTER = re.compile(r"^\(\d+ rows?\)$")


def cells(line):
    return [c.strip() for c in line.split("|")]


def layout(lines):
    """For each line of a psql output file: the column names it holds values
    for (a list, for a row of an aligned table), or the label (a string, for a
    line of expanded output), or None (anything else)."""
    out = [None] * len(lines)
    cols = None          # columns of the aligned table we are in
    expanded = False
    for i, line in enumerate(lines):
        if SEPARATOR.match(line) and i > 0 and not RECORD.match(line):
            cols = cells(lines[i - 1])
            expanded = False
            continue
        if RECORD.match(line):
            expanded, cols = True, None
            continue
        if cols is not None:
            if FOOTER.match(line) or line == "":
                cols = None
            elif len(cells(line)) == len(cols):
                out[i] = cols
            continue
        if expanded:
            if line == "" or "|" not in line:
                expanded = False
            else:
                out[i] = cells(line)[0]
    return out


def columns_of(path):
    """Every column name and expanded-output label in a psql output file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    names = set()
    for x in layout(lines):
        if isinstance(x, list):
            names.update(x)
        elif isinstance(x, str):
            names.add(x)
    return names


def compare(expected_path, result_path, test, allow=None):
    """(ok, notes): ok when the files are equal but for allowed t -> f cells."""
    allow = set((t, c) for t, c, _ in ALLOW) if allow is None else allow
    with open(expected_path, encoding="utf-8", errors="replace") as f:
        exp = f.read().split("\n")
    with open(result_path, encoding="utf-8", errors="replace") as f:
        got = f.read().split("\n")
    if len(exp) != len(got):
        return False, ["%d lines expected, %d in the result" % (len(exp), len(got))]
    where = layout(exp)
    notes, bad = [], []
    for i, (a, b) in enumerate(zip(exp, got)):
        if a == b:
            continue
        ctx = where[i]
        if isinstance(ctx, str):                     # expanded: "label | value"
            ca, cb = cells(a), cells(b)
            names = [ctx, ctx]
        elif isinstance(ctx, list):
            ca, cb = cells(a), cells(b)
            names = ctx
        else:
            bad.append("line %d: %r -> %r (not a result row)" % (i + 1, a, b))
            continue
        if len(ca) != len(cb) or len(ca) != len(names):
            bad.append("line %d: %r -> %r (the row's shape changed)" % (i + 1, a, b))
            continue
        for k, (x, y) in enumerate(zip(ca, cb)):
            if x == y:
                continue
            col = names[k] if not isinstance(ctx, str) else ctx
            if (test, col) in allow and x == "t" and (
                    y == "f" or (y == "" and (test, col) in MAY_BE_NULL)):
                notes.append("%s t -> %s (line %d)" % (col, y or "NULL", i + 1))
            else:
                bad.append("line %d, column %s: %r -> %r (%s)" % (
                    i + 1, col, x, y,
                    "not on the allow-list" if (test, col) not in allow
                    else "only t -> f%s is allowed" % (
                        " or NULL" if (test, col) in MAY_BE_NULL else "")))
    if bad:
        return False, bad
    return True, notes


def expected_files(root, test):
    files = [os.path.join(root, "expected", test + ".out")]
    files += sorted(glob.glob(os.path.join(root, "expected", test + "_[0-9].out")))
    return [f for f in files if os.path.exists(f)]


def judge(root, results, test, out=sys.stdout, allow=None):
    """True when RESULTS/TEST.out matches an expected file of TEST but for
    allowed flips; prints what it found."""
    result = os.path.join(results, test + ".out")
    if not os.path.exists(result):
        print("%s: no result file %s" % (test, result), file=out)
        return False
    exps = expected_files(root, test)
    if not exps:
        print("%s: no expected file" % test, file=out)
        return False
    first_bad = None
    for e in exps:
        ok, notes = compare(e, result, test, allow)
        if ok:
            if notes:
                print("%s: only allow-listed flips against %s: %s" % (
                    test, os.path.basename(e), "; ".join(notes)), file=out)
            return True
        if first_bad is None:
            first_bad = (e, notes)
    e, notes = first_bad
    print("%s: differs from %s beyond the allow-list:" % (test, os.path.basename(e)), file=out)
    for n in notes[:10]:
        print("  " + n, file=out)
    return False


def check(root, out=sys.stdout, allow=None):
    """Every ALLOW entry names a test that exists and a column (or label)
    that its SQL and one of its expected files still show."""
    entries = ALLOW if allow is None else allow
    stale = []
    for test, col, _ in entries:
        sql = os.path.join(root, "sql", test + ".sql")
        if not os.path.exists(sql):
            stale.append("%s: no test sql/%s.sql" % (test, test))
            continue
        with open(sql, encoding="utf-8", errors="replace") as f:
            in_sql = re.search(r"\b%s\b" % re.escape(col), f.read()) is not None
        in_out = any(col in columns_of(e) for e in expected_files(root, test))
        if not (in_sql and in_out):
            stale.append("%s: no result column %r (%s)" % (
                test, col, "not in the SQL" if not in_sql else "not in the expected output"))
    for s in stale:
        print("valgrind allow-list is stale: " + s
              + " -- renamed or removed? update ALLOW in scripts/checks/valgrind_allow.py",
              file=out)
    return not stale


def self_test(root):
    """The comparison and the staleness check must be able to fail."""
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append("%s: got %s, want %s" % (what, got, want))
        print("  %-70s %s" % (what, "ok" if got == want else "WRONG"))

    tmp = tempfile.mkdtemp(prefix="qxt-vgallow.")
    try:
        os.makedirs(os.path.join(tmp, "expected"))
        os.makedirs(os.path.join(tmp, "sql"))
        os.makedirs(os.path.join(tmp, "results"))
        base = ("SELECT 1 AS peak_ok, true AS key_not_in_log;\n"
                " x | peak_ok | key_not_in_log \n"
                "---+---------+----------------\n"
                " 1 | t       | t\n"
                "(1 row)\n"
                "\n"
                "\\x\n"
                "SELECT * FROM v;\n"
                "-[ RECORD 1 ]---+---\n"
                "peak_ok        | t\n"
                "in_order       | t\n"
                "\n")
        allow = {("t1", "peak_ok")}
        entries = [("t1", "peak_ok", "test")]

        def run(result_text, test="t1", expected_text=base):
            with open(os.path.join(tmp, "expected", test + ".out"), "w") as f:
                f.write(expected_text)
            with open(os.path.join(tmp, "results", test + ".out"), "w") as f:
                f.write(result_text)
            with open(os.devnull, "w") as null:
                return judge(tmp, os.path.join(tmp, "results"), test, null, allow)

        print("synthetic files:")
        expect("identical", run(base), True)
        expect("allow-listed column t -> f", run(base.replace(" 1 | t       | t", " 1 | f       | t")), True)
        expect("allow-listed label t -> f (expanded)", run(base.replace("peak_ok        | t", "peak_ok        | f")), True)
        expect("non-timing column t -> f (key_not_in_log)", run(base.replace(" 1 | t       | t", " 1 | t       | f")), False)
        expect("non-timing label t -> f (in_order, expanded)", run(base.replace("in_order       | t", "in_order       | f")), False)
        expect("allow-listed column in another test", run(base.replace(" 1 | t       | t", " 1 | f       | t"), "t2"), False)
        expect("allow-listed column f -> t",
               run(base, expected_text=base.replace(" 1 | t       | t", " 1 | f       | t")), False)
        expect("a number changed", run(base.replace(" 1 | t", " 2 | t")), False)
        expect("a line more", run(base + "ERROR:  boom\n"), False)
        expect("a line changed outside a table", run(base.replace("SELECT * FROM v;", "SELECT * FROM w;")), False)
        expect("allow-listed column t -> something else", run(base.replace(" 1 | t       | t", " 1 |         | t")), False)
        with open(os.path.join(tmp, "sql", "t1.sql"), "w") as f:
            f.write("SELECT 1 AS peak_ok;\n")
        with open(os.devnull, "w") as null:
            expect("check: the entry still exists", check(tmp, null, entries), True)
            expect("check: a renamed column is stale",
                   check(tmp, null, [("t1", "peak_growth", "test")]), False)
            expect("check: a removed test is stale", check(tmp, null, [("t9", "peak_ok", "test")]), False)

        # The real expected files: a flipped non-timing boolean of each kind
        # the issue names fails; a flip of each real allow-listed column passes.
        print("real expected files (%s):" % os.path.join(root, "expected"))
        res = os.path.join(tmp, "real")
        os.makedirs(res)
        real = {}
        for path in glob.glob(os.path.join(root, "expected", "*.out")):
            test = os.path.basename(path)[:-4]
            if re.search(r"_\d$", test):
                continue
            with open(path, encoding="utf-8") as f:
                real[test] = f.read().split("\n")

        def flip(test, col, frm="t", to="f"):
            """RESULTS/test.out = the expected file with the first `frm` cell
            of column `col` turned into `to`; None when there is none."""
            lines = list(real[test])
            for i, ctx in enumerate(layout(lines)):
                names = [ctx] if isinstance(ctx, str) else ctx
                if not names or col not in names:
                    continue
                cs = cells(lines[i])
                k = 1 if isinstance(ctx, str) else names.index(col)
                if cs[k] != frm:
                    continue
                parts = lines[i].split("|")
                parts[k] = parts[k].replace(frm, to, 1)
                lines[i] = "|".join(parts)
                with open(os.path.join(res, test + ".out"), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines))
                return True
            return None

        with open(os.devnull, "w") as null:
            for col in ("key_not_in_log", "public_can_execute", "rejected", "in_order"):
                tests = sorted(t for t in real if col in columns_of(os.path.join(root, "expected", t + ".out")))
                done = False
                for t in tests:
                    for frm, to in (("t", "f"), ("f", "t")):
                        if flip(t, col, frm, to):
                            expect("%s: %s %s -> %s fails" % (t, col, frm, to),
                                   judge(root, res, t, null), False)
                            done = True
                            break
                    if done:
                        break
                if not done:
                    print("  (no expected file shows a %s column now)" % col)
            for t, col, _ in ALLOW:
                if t in real and flip(t, col):
                    expect("%s: %s t -> f passes" % (t, col), judge(root, res, t, null), True)
            t = "10_memory"
            if t in real:
                lines = list(real[t])
                for i, ctx in enumerate(layout(lines)):
                    if isinstance(ctx, list) and "answered" in ctx:
                        k = ctx.index("answered")
                        parts = lines[i].split("|")
                        parts[k] = re.sub(r"\d", "1", parts[k], 1) if parts[k].strip()[:1] != "1" \
                            else re.sub(r"\d", "2", parts[k], 1)
                        lines[i] = "|".join(parts)
                        break
                with open(os.path.join(res, t + ".out"), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines))
                expect("10_memory: a changed count (answered) fails", judge(root, res, t, null), False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("self-test: %s" % ("passed" if not failures else "FAILED: " + "; ".join(failures)))
    return not failures


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        return 0 if check(argv[2]) else 1
    if len(argv) == 5 and argv[1] == "judge":
        return 0 if judge(argv[2], argv[3], argv[4]) else 1
    if len(argv) == 3 and argv[1] == "self-test":
        return 0 if self_test(argv[2]) else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
