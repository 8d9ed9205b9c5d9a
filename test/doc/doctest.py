#!/usr/bin/env python3
"""The README doc test: runs every SQL example of README.md in psql and
compares what psql prints with what the README shows.

    doctest.py [--list] README.md

Run by test/doc/run.sh inside a throwaway cluster (pg_virtualenv: PGHOST,
PGPORT, PGUSER and PGDATABASE name it) with the vendor emulator at
QXT_EMU_URL.  --list only classifies the blocks and runs nothing.

Every fenced block of the README is one of:

  - a psql session: an untagged block whose first line starts with "=# ".
    Each "=# " line starts a statement (continued on the following lines
    until psql would send it: a ";" outside quotes, comments and
    parentheses, or a backslash command); the lines up to the next "=# "
    are what psql prints for it.  Passes when psql prints exactly that.
  - a ```sql block: run as it stands; the README shows no output for it,
    so it passes when it runs without an ERROR (or an error of psql about
    a backslash command).
  - ```sh, ```text or ```ini: shell commands, program output, a
    configuration file: not SQL, counted and not run.

Any other block (untagged and not a session, another tag) fails the test:
tag it.  HTML comments right before a block's fence (only blank lines
between) change how it is run:

  <!-- doctest: skip (why) -->   not run; counted and listed as skipped
                                  by mark, with the reason (required)
  <!-- doctest: setup SQL -->     SQL run first; its output is not
                                  compared, but an ERROR fails the example
  <!-- doctest: cleanup SQL -->   the same, run after the example
  <!-- doctest: own session -->   run in a new session of its own (psql
                                  started afresh, nothing SET or LOADed),
                                  instead of the one session all other
                                  examples share in README order

All examples that are run share one psql session, in README order, as a
reader who follows the README in one psql would (the SETs of one example
hold for the next).  psql runs with \\pset null '∅' and \\pset footer off,
as the README's listings are printed, and VERBOSITY default.

What is normalised before comparing, on both sides, and nothing else:
trailing spaces of a line and blank lines at the start and end of an
output; the "psql:FILE:LINE: " prefix psql puts on errors read from a
file; the emulator's URL in the README (http://127.0.0.1:8090) is replaced
by QXT_EMU_URL in what is run; timestamps, durations ("in 26.0 s", "about
37 s left", psql's "Time:" lines), rates ("2277 numbers/s") and the values
of run_id and pid in expanded listings are replaced by placeholders.

Prints one line per block, the diffs of failed examples, a summary and,
last, "N passed, M failed" (one count per executed example).  Exit status
0 when every executed example passed, 1 otherwise.
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile

README_EMU_URL = "http://127.0.0.1:8090"
NOT_SQL_TAGS = {"sh", "text", "ini"}
FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")
MARK_START = re.compile(r"^<!--\s*doctest:(.*)$")

PREAMBLE = """\\set QUIET on
\\pset null '∅'
\\pset footer off
\\pset pager off
\\set VERBOSITY default
\\set ON_ERROR_STOP off
\\set QUIET off
"""


class Block:
    def __init__(self, line, tag, lines, marks):
        self.line = line          # 1-based line of the opening fence
        self.tag = tag
        self.lines = lines        # the block's content lines
        self.marks = marks        # list of (kind, text)
        self.kind = None          # session, sql, other, skip, bad
        self.reason = ""
        self.statements = []      # session: list of (sql, expected lines)
        self.setup = ""
        self.cleanup = ""
        self.own_session = False

    def name(self):
        return "README.md:%d" % self.line


def parse_readme(path):
    """Fenced blocks with the doctest marks right before them."""
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\n")
    blocks, pending, errors = [], [], []
    i = 0
    while i < len(text):
        line = text[i]
        m = MARK_START.match(line)
        if m:
            start = i
            body = m.group(1)
            while "-->" not in body:
                i += 1
                if i >= len(text):
                    errors.append("README.md:%d: doctest mark never closed" % (start + 1))
                    return blocks, errors
                body += "\n" + text[i]
            rest = body[body.index("-->") + 3:]
            if rest.strip():
                errors.append("README.md:%d: text after a doctest mark's -->" % (start + 1))
            body = body[:body.index("-->")].strip()
            pending.append((start + 1, body))
            i += 1
            continue
        m = FENCE.match(line)
        if m:
            start = i
            tag = m.group(1)
            content = []
            i += 1
            while i < len(text) and not re.match(r"^```\s*$", text[i]):
                content.append(text[i])
                i += 1
            if i >= len(text):
                errors.append("README.md:%d: code block never closed" % (start + 1))
                return blocks, errors
            marks = []
            for mline, body in pending:
                kind, arg = (re.split(r"\s+", body, 1) + [""])[:2]
                if body.startswith("own session"):
                    marks.append(("own session", ""))
                elif kind in ("skip", "setup", "cleanup"):
                    marks.append((kind, arg.strip()))
                else:
                    errors.append("README.md:%d: unknown doctest mark %r" % (mline, body[:40]))
            pending = []
            blocks.append(Block(start + 1, tag, content, marks))
            i += 1
            continue
        if pending and line.strip():
            errors.append("README.md:%d: a doctest mark must come right before a code block"
                          % pending[0][0])
            pending = []
        i += 1
    return blocks, errors


def scan_state(sql):
    """Whether psql would send SQL as it stands: True when it ends, outside
    quotes, comments and parentheses, with a ";" (then only blanks and
    -- comments)."""
    i, n = 0, len(sql)
    depth = 0
    complete = False
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and sql.startswith("/*", i):
            level, i = 1, i + 2
            while i < n and level:
                if sql.startswith("/*", i):
                    level, i = level + 1, i + 2
                elif sql.startswith("*/", i):
                    level, i = level - 1, i + 2
                else:
                    i += 1
            if level:
                return False
            continue
        if c in "'\"":
            j = i + 1
            while True:
                j = sql.find(c, j)
                if j < 0:
                    return False
                if sql.startswith(c * 2, j):
                    j += 2
                    continue
                break
            i = j + 1
            complete = False
            continue
        if c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m and (i == 0 or not re.match(r"[A-Za-z0-9_]", sql[i - 1])):
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                if j < 0:
                    return False
                i = j + len(tag)
                complete = False
                continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == ";" and depth == 0:
            complete = True
        elif not c.isspace():
            complete = False
        i += 1
    return complete


def classify(block):
    marks = dict()
    for kind, arg in block.marks:
        if kind in ("setup", "cleanup"):
            marks[kind] = (marks.get(kind, "") + "\n" + arg).strip()
        else:
            marks[kind] = arg
    if "skip" in marks:
        block.kind = "skip"
        m = re.match(r"^\((.+)\)$", marks["skip"], re.S)
        if not m:
            block.kind = "bad"
            block.reason = "a skip mark needs its reason in parentheses"
        else:
            block.reason = " ".join(m.group(1).split())
        return
    block.setup = marks.get("setup", "")
    block.cleanup = marks.get("cleanup", "")
    block.own_session = "own session" in marks
    first = next((l for l in block.lines if l.strip()), "")
    if block.tag == "" and first.startswith("=# "):
        block.kind = "session"
        parse_session(block)
    elif block.tag == "sql":
        block.kind = "sql"
        if not scan_state("\n".join(block.lines)):
            block.kind = "bad"
            block.reason = "the block does not end with a complete statement"
    elif block.tag in NOT_SQL_TAGS:
        block.kind = "other"
        if block.marks:
            block.kind = "bad"
            block.reason = "a doctest mark on a block that is not SQL"
    else:
        block.kind = "bad"
        block.reason = ("untagged block that is not a psql session (\"=# \"): tag it sql, sh, "
                        "text or ini" if block.tag == "" else "unknown tag %r" % block.tag)


def parse_session(block):
    stmt, expected, in_stmt = None, [], False
    for line in block.lines:
        if line.startswith("=# "):
            if in_stmt:
                block.kind, block.reason = "bad", "a statement never ends: %r" % stmt[:60]
                return
            if stmt is not None:
                block.statements.append((stmt, expected))
            stmt, expected = line[3:], []
            in_stmt = not (stmt.lstrip().startswith("\\") or scan_state(stmt))
        elif in_stmt:
            stmt += "\n" + line
            in_stmt = not scan_state(stmt)
        else:
            expected.append(line)
    if in_stmt:
        block.kind, block.reason = "bad", "a statement never ends: %r" % stmt[:60]
        return
    if stmt is not None:
        block.statements.append((stmt, expected))


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?)?")
RULES = [
    (TIMESTAMP, "<timestamp>"),
    (re.compile(r"\b\d+ numbers/s\b"), "<rate> numbers/s"),
    (re.compile(r"\babout \d+ s left\b"), "about <duration> left"),
    (re.compile(r"\bin \d+(\.\d+)? s\b"), "in <duration>"),
    (re.compile(r"^(run_id|pid)(\s+\| )\d+$"), r"\1\2<id>"),
]
PSQL_PREFIX = re.compile(r"^psql:[^\s:]*:\d+: ")


def normalise(lines):
    out = []
    for line in lines:
        line = PSQL_PREFIX.sub("", line).rstrip()
        if re.match(r"^Time: \d+(\.\d+)? ms", line):
            continue
        for rx, rep in RULES:
            line = rx.sub(rep, line)
        out.append(line)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


# The server's errors, and psql's own about a backslash command.
ERROR_LINE = re.compile(r"^(ERROR|FATAL|PANIC):|^error: |^invalid command \\|^\\[a-z]+: ")


def marker(idx, part):
    return "@@doctest %d %s@@" % (idx, part)


def emu_url(sql):
    return sql.replace(README_EMU_URL, os.environ.get("QXT_EMU_URL", README_EMU_URL))


def block_script(idx, b):
    """The psql input for one example: its parts between markers."""
    out = []
    if b.setup:
        out += ["\\echo '%s'" % marker(idx, "setup"), emu_url(b.setup)]
    if b.kind == "session":
        for k, (sql, _) in enumerate(b.statements):
            out += ["\\echo '%s'" % marker(idx, "s%d" % k), emu_url(sql)]
    else:
        out += ["\\echo '%s'" % marker(idx, "sql"), emu_url("\n".join(b.lines))]
    if b.cleanup:
        out += ["\\echo '%s'" % marker(idx, "cleanup"), emu_url(b.cleanup)]
    out.append("\\echo '%s'" % marker(idx, "end"))
    return "\n".join(out) + "\n"


def run(blocks, workdir):
    runnable = [(i, b) for i, b in enumerate(blocks) if b.kind in ("session", "sql")]
    script = [PREAMBLE]
    for idx, b in runnable:
        text = block_script(idx, b)
        if b.own_session:
            path = os.path.join(workdir, "own_session_%d.sql" % idx)
            with open(path, "w", encoding="utf-8") as f:
                f.write(PREAMBLE + text)
            script.append("\\! stdbuf -oL psql -X -f '%s' 2>&1\n" % path)
        else:
            script.append(text)
    path = os.path.join(workdir, "readme.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(script))
    # stdout line-buffered, errors and notices on the same pipe: psql's
    # output in the order it printed it.
    proc = subprocess.run(["stdbuf", "-oL", "psql", "-X", "-f", path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, timeout=600)
    output = proc.stdout.decode("utf-8", "replace")
    with open(os.path.join(workdir, "psql.out"), "w", encoding="utf-8") as f:
        f.write(output)
    parts = {}
    current = None
    for line in output.split("\n"):
        m = re.match(r"^@@doctest (\d+) (\S+)@@$", line)
        if m:
            current = (int(m.group(1)), m.group(2))
            parts[current] = []
        elif current is not None:
            parts[current].append(line)
    return runnable, parts, proc.returncode


def check(idx, b, parts):
    """(passed, details) for one example."""
    problems = []
    if (idx, "end") not in parts:
        problems.append("psql did not get to the end of this example (see build/doc/psql.out)")
    for part in ("setup", "cleanup"):
        if getattr(b, part):
            got = parts.get((idx, part))
            if got is None:
                problems.append("its %s did not run" % part)
            elif any(ERROR_LINE.match(l) for l in normalise(got)):
                problems.append("its %s failed:\n    " % part + "\n    ".join(normalise(got)))
    if b.kind == "sql":
        got = normalise(parts.get((idx, "sql"), []))
        if (idx, "sql") not in parts:
            problems.append("it did not run")
        elif any(ERROR_LINE.match(l) for l in got):
            problems.append("it raised an error:\n    " + "\n    ".join(got))
    else:
        for k, (sql, expected) in enumerate(b.statements):
            got = parts.get((idx, "s%d" % k))
            first = sql.split("\n")[0]
            if got is None:
                problems.append("statement %d (%s) did not run" % (k + 1, first))
                continue
            want, have = normalise(expected), normalise(got)
            if want != have:
                diff = difflib.unified_diff(want, have, "README", "psql", lineterm="", n=2)
                problems.append("statement %d (=# %s) prints something else:\n    " % (k + 1, first)
                                + "\n    ".join(diff))
    return not problems, problems


def main(argv):
    list_only = "--list" in argv
    args = [a for a in argv if a != "--list"]
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    blocks, errors = parse_readme(args[0])
    for b in blocks:
        classify(b)
    for e in errors:
        print("FAIL  " + e)
    bad = [b for b in blocks if b.kind == "bad"]
    for b in bad:
        print("FAIL  %s: %s" % (b.name(), b.reason))
    workdir = os.environ.get("QXT_DOC_WORKDIR") or tempfile.mkdtemp(prefix="qxt-doc.")
    os.makedirs(workdir, exist_ok=True)
    results = {}
    if not list_only:
        runnable, parts, rc = run(blocks, workdir)
        for idx, b in runnable:
            results[idx] = check(idx, b, parts)
    passed = failed = 0
    for idx, b in enumerate(blocks):
        if b.kind in ("session", "sql"):
            what = ("psql session, %d statement%s" % (len(b.statements), "" if len(b.statements) == 1 else "s")
                    if b.kind == "session" else "sql block, run without an error")
            extra = "".join([", setup", ", cleanup", ", own session"][j]
                            for j, on in enumerate([b.setup, b.cleanup, b.own_session]) if on)
            if list_only:
                print("run   %s (%s%s)" % (b.name(), what, extra))
                continue
            ok, problems = results[idx]
            if ok:
                passed += 1
                print("ok    %s (%s%s)" % (b.name(), what, extra))
            else:
                failed += 1
                print("FAIL  %s (%s%s)" % (b.name(), what, extra))
                for p in problems:
                    print("  " + p)
        elif b.kind == "skip":
            print("skip  %s (skipped by mark: %s)" % (b.name(), b.reason))
    executed = sum(1 for b in blocks if b.kind in ("session", "sql"))
    skipped = sum(1 for b in blocks if b.kind == "skip")
    other = sum(1 for b in blocks if b.kind == "other")
    print()
    print("README examples: %d executed, %d skipped by mark; %d other blocks (sh, text, ini) are not SQL"
          % (executed, skipped, other))
    failed += len(bad) + len(errors)
    if list_only:
        return 0 if not failed else 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
