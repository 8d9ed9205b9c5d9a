#!/usr/bin/env python3
"""Checks of the repository itself (no build, no server), for scripts/test.sh.

    scripts/check-repo.py [--self-test]

  meta      META.json is valid against the PGXN Meta Spec 1.0.0 and agrees
            with the control file and debian/changelog (name, versions,
            files)
  runbits   every script the Markdown files run by path (in sh/bash/console
            code blocks, or an inline `path/to/script args` whose file starts
            with #!) is tracked by git with its run bit (mode 100755), and so
            are debian/rules and the tests debian/tests/control names
  paths     no tracked file names a path outside the repository: this
            checkout's own absolute path or its parent's, a developer
            machine's workspace or home, or a sibling checkout's shared
            folder
  control   debian/control is what pg_buildext generates from
            debian/control.in (pg_buildext checkcontrol)

--self-test also feeds each check broken input (a spoilt META.json, a
throwaway git repository with a script lacking its run bit and a file naming
an outside path, a stale debian/control) and passes only when every one of
them is caught.  Prints one line per check and ends with "N passed, M
failed"; exits 1 when anything failed.  Python 3 standard library only.
"""

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------
# PGXN Meta Spec 1.0.0
# ---------------------------------------------------------------------------

LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd",
    "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1",
    "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
    "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
    "restricted", "unrestricted", "unknown",
}
TOP_KEYS = {"name", "version", "abstract", "maintainer", "license", "provides",
            "meta-spec", "description", "generated_by", "tags", "no_index",
            "prereqs", "release_status", "resources"}
REQUIRED_TOP = ["name", "version", "abstract", "maintainer", "license",
                "provides", "meta-spec"]
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
SPEC_URLS = {"https://pgxn.org/meta/spec.txt", "http://pgxn.org/meta/spec.txt"}

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER = (_NUM + r"\." + _NUM + r"\." + _NUM +
          r"(?:-" + _PRE_ID + r"(?:\." + _PRE_ID + r")*)?"
          r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
SEMVER_RE = re.compile("^" + SEMVER + "$")
_CLAUSE = r"(?:(?:==|!=|<=|>=|<|>)\s*)?" + SEMVER
RANGE_RE = re.compile(r"^(?:0|" + _CLAUSE + r")(?:\s*,\s*" + _CLAUSE + r")*$")
CUSTOM_RE = re.compile(r"^[xX]_.")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def _is_control(ch):
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_string(v):
    return isinstance(v, str) and len(v) > 0


def is_term(v):
    return (is_string(v) and len(v) >= 2 and
            not any(c in "/\\" or c.isspace() or _is_control(c) for c in v))


def is_tag(v):
    return (is_string(v) and 2 <= len(v) <= 255 and
            not any(c in "/\\" or _is_control(c) for c in v))


def is_path(v):
    return (is_string(v) and not v.startswith("/") and "\\" not in v and
            ".." not in v.split("/"))


def check_keys(obj, where, allowed, errors, required=()):
    for k in required:
        if k not in obj:
            errors.append("%s: '%s' is required" % (where, k))
    for k in obj:
        if k not in allowed and not CUSTOM_RE.match(k):
            errors.append("%s: unknown key '%s' (custom keys start with x_)" % (where, k))


def validate_meta(meta):
    """Returns a list of violations of the PGXN Meta Spec 1.0.0."""
    e = []
    if not isinstance(meta, dict):
        return ["the document is not a JSON object"]
    check_keys(meta, "META.json", TOP_KEYS, e, REQUIRED_TOP)

    if "name" in meta and not is_term(meta["name"]):
        e.append("name: must be a Term (2+ characters, no slash, backslash, space or control character)")
    if "version" in meta and not (is_string(meta["version"]) and SEMVER_RE.match(meta["version"])):
        e.append("version: %r is not a semantic version (e.g. 1.1.0)" % (meta["version"],))
    for k in ("abstract", "description", "generated_by"):
        if k in meta and not is_string(meta[k]):
            e.append("%s: must be a non-empty string" % k)

    m = meta.get("maintainer")
    if "maintainer" in meta and not (
            is_string(m) or (isinstance(m, list) and m and all(is_string(x) for x in m))):
        e.append("maintainer: must be a non-empty string or a non-empty list of them")

    if "license" in meta:
        lic = meta["license"]
        if isinstance(lic, str):
            if lic not in LICENSES:
                e.append("license: %r is not one of the spec's license names" % lic)
        elif isinstance(lic, list):
            if not lic or any(x not in LICENSES for x in lic):
                e.append("license: a list must be non-empty and hold only the spec's license names")
        elif isinstance(lic, dict):
            if not lic or any(not is_string(k) or not (is_string(v) and URI_RE.match(v))
                              for k, v in lic.items()):
                e.append("license: an object must map license names to URIs")
        else:
            e.append("license: must be a name, a list of names or an object of name: URI")

    if "provides" in meta:
        prov = meta["provides"]
        if not isinstance(prov, dict) or not prov:
            e.append("provides: must be a non-empty object")
        else:
            for ext, d in prov.items():
                w = "provides.%s" % ext
                if not is_term(ext):
                    e.append("%s: the extension name must be a Term" % w)
                if not isinstance(d, dict):
                    e.append("%s: must be an object" % w)
                    continue
                check_keys(d, w, {"file", "version", "abstract", "docfile"}, e,
                           ("file", "version"))
                if "file" in d and not is_path(d["file"]):
                    e.append("%s.file: must be a relative unix path" % w)
                if "docfile" in d and not is_path(d["docfile"]):
                    e.append("%s.docfile: must be a relative unix path" % w)
                if "version" in d and not (is_string(d["version"]) and SEMVER_RE.match(d["version"])):
                    e.append("%s.version: %r is not a semantic version" % (w, d["version"]))
                if "abstract" in d and not is_string(d["abstract"]):
                    e.append("%s.abstract: must be a non-empty string" % w)

    if "meta-spec" in meta:
        ms = meta["meta-spec"]
        if not isinstance(ms, dict):
            e.append("meta-spec: must be an object")
        else:
            check_keys(ms, "meta-spec", {"version", "url"}, e, ("version",))
            if "version" in ms and not (isinstance(ms["version"], str) and
                                        re.match(r"^1\.0\.[0-9]+$", ms["version"])):
                e.append("meta-spec.version: must be 1.0.x for this spec")
            if "url" in ms and ms["url"] not in SPEC_URLS:
                e.append("meta-spec.url: must be the spec's own URL")

    if "tags" in meta:
        t = meta["tags"]
        if not isinstance(t, list) or not t or not all(is_tag(x) for x in t):
            e.append("tags: must be a non-empty list of Tags (2-255 characters, no slash, backslash or control character)")

    if "no_index" in meta:
        ni = meta["no_index"]
        if not isinstance(ni, dict) or not ({"file", "directory"} & set(ni)):
            e.append("no_index: must be an object with 'file' and/or 'directory'")
        else:
            check_keys(ni, "no_index", {"file", "directory"}, e)
            for k in ("file", "directory"):
                if k not in ni:
                    continue
                v = ni[k]
                ok = is_path(v) or (isinstance(v, list) and v and
                                    all(is_path(x) for x in v) and len(set(v)) == len(v))
                if not ok:
                    e.append("no_index.%s: must be a relative path or a non-empty list of distinct ones" % k)

    if "prereqs" in meta:
        pr = meta["prereqs"]
        if not isinstance(pr, dict) or not pr:
            e.append("prereqs: must be a non-empty object")
        else:
            check_keys(pr, "prereqs", PHASES, e)
            for phase, rels in pr.items():
                if CUSTOM_RE.match(phase):
                    continue
                w = "prereqs.%s" % phase
                if not isinstance(rels, dict) or not rels:
                    e.append("%s: must be a non-empty object" % w)
                    continue
                check_keys(rels, w, RELATIONS, e)
                for rel, deps in rels.items():
                    if CUSTOM_RE.match(rel):
                        continue
                    if not isinstance(deps, dict) or not deps:
                        e.append("%s.%s: must be a non-empty object" % (w, rel))
                        continue
                    for dep, rng in deps.items():
                        if not is_term(dep):
                            e.append("%s.%s: %r is not a Term" % (w, rel, dep))
                        ok = (rng == 0 and not isinstance(rng, bool)) or (
                            isinstance(rng, str) and RANGE_RE.match(rng))
                        if not ok:
                            e.append("%s.%s.%s: %r is not a version range" % (w, rel, dep, rng))

    if "release_status" in meta and meta["release_status"] not in ("stable", "testing", "unstable"):
        e.append("release_status: must be stable, testing or unstable")

    if "resources" in meta:
        rs = meta["resources"]
        if not isinstance(rs, dict) or not rs:
            e.append("resources: must be a non-empty object")
        else:
            check_keys(rs, "resources", {"homepage", "bugtracker", "repository"}, e)
            if "homepage" in rs and not (is_string(rs["homepage"]) and URI_RE.match(rs["homepage"])):
                e.append("resources.homepage: must be a URI")
            bt = rs.get("bugtracker")
            if "bugtracker" in rs:
                if not isinstance(bt, dict) or not ({"web", "mailto"} & set(bt)):
                    e.append("resources.bugtracker: needs 'web' or 'mailto'")
                else:
                    check_keys(bt, "resources.bugtracker", {"web", "mailto"}, e)
                    if "web" in bt and not (is_string(bt["web"]) and URI_RE.match(bt["web"])):
                        e.append("resources.bugtracker.web: must be a URI")
                    if "mailto" in bt and not (is_string(bt["mailto"]) and EMAIL_RE.match(bt["mailto"])):
                        e.append("resources.bugtracker.mailto: must be an email address")
            rp = rs.get("repository")
            if "repository" in rs:
                if not isinstance(rp, dict) or not ({"url", "type"} <= set(rp) or "web" in rp):
                    e.append("resources.repository: needs 'url' with 'type', or 'web'")
                else:
                    check_keys(rp, "resources.repository", {"url", "web", "type"}, e)
                    for k in ("url", "web"):
                        if k in rp and not (is_string(rp[k]) and URI_RE.match(rp[k])):
                            e.append("resources.repository.%s: must be a URI" % k)
                    if "type" in rp and not (is_string(rp["type"]) and rp["type"] == rp["type"].lower()):
                        e.append("resources.repository.type: must be a lower-case VCS name")
    return e


def read_control(root):
    ctl = {}
    with open(os.path.join(root, "qxt_portability.control"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\s*(\w+)\s*=\s*'?([^'#]*?)'?\s*(#.*)?$", line)
            if m:
                ctl[m.group(1)] = m.group(2)
    return ctl


def changelog_version(root):
    with open(os.path.join(root, "debian", "changelog"), encoding="utf-8") as f:
        m = re.match(r"^\S+ \(([^)]+)\)", f.readline())
    return m.group(1) if m else None


def as_semver(v):
    parts = v.split(".")
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts)


def meta_consistency(meta, root):
    """The project's own rules: META.json says what the tree says."""
    e = []
    ctl = read_control(root)
    ext = "qxt_portability"
    if meta.get("name") != ext:
        e.append("name: %r, but the extension is %s" % (meta.get("name"), ext))
    prov = meta.get("provides") if isinstance(meta.get("provides"), dict) else {}
    d = prov.get(ext)
    if not isinstance(d, dict):
        e.append("provides: has no entry for %s" % ext)
        d = {}
    default = ctl.get("default_version", "")
    if d.get("version") != as_semver(default):
        e.append("provides.%s.version: %r, but the control file's default_version is %r (%s)"
                 % (ext, d.get("version"), default, as_semver(default)))
    want_file = "extension/%s--%s.sql" % (ext, default)
    if d.get("file") != want_file:
        e.append("provides.%s.file: %r, but the default version's script is %s"
                 % (ext, d.get("file"), want_file))
    for k in ("file", "docfile"):
        if isinstance(d.get(k), str) and not os.path.isfile(os.path.join(root, d[k])):
            e.append("provides.%s.%s: %s does not exist" % (ext, k, d[k]))
    ni = meta.get("no_index", {})
    if isinstance(ni, dict):
        dirs = ni.get("directory", [])
        for p in [dirs] if isinstance(dirs, str) else dirs:
            if isinstance(p, str) and not os.path.isdir(os.path.join(root, p)):
                e.append("no_index.directory: %s does not exist" % p)
    cv = changelog_version(root)
    if cv is None:
        e.append("debian/changelog: no version on its first line")
    elif meta.get("version") != cv.split("-")[0]:
        e.append("version: %r, but debian/changelog says %s" % (meta.get("version"), cv))
    return e


def check_meta(root):
    path = os.path.join(root, "META.json")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as ex:
        return ["META.json: %s" % ex]
    return validate_meta(meta) + meta_consistency(meta, root)


# ---------------------------------------------------------------------------
# Run bits of the scripts the Markdown files run by path
# ---------------------------------------------------------------------------

SHELL_FENCES = {"sh", "bash", "shell", "console", "shell-session", "zsh"}
PREFIX_WORDS = {"sudo", "env", "exec", "time", "nohup", "command"}


def git_modes(root):
    out = subprocess.run(["git", "-C", root, "ls-files", "-s", "-z"], check=True,
                         stdout=subprocess.PIPE).stdout.decode("utf-8", "replace")
    modes = {}
    for rec in out.split("\0"):
        if rec:
            meta, path = rec.split("\t", 1)
            modes[path] = meta.split()[0]
    return modes


def commands_in(line):
    """The first words of the simple commands on one shell line."""
    line = re.sub(r"(^|\s)#.*$", "", line)           # a comment
    line = line.replace("$(", " ( ")
    words = []
    for seg in re.split(r"&&|\|\||[;|()]", line):
        try:
            toks = shlex.split(seg)
        except ValueError:
            toks = seg.split()
        while toks and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", toks[0]) or
                        toks[0] in PREFIX_WORDS or toks[0].startswith("-")):
            toks.pop(0)
        if toks:
            words.append(toks[0])
    return words


def runnable_paths(text):
    """(path, kind) for every path a Markdown text runs: from shell code
    blocks, and from inline code spans (kind 'inline')."""
    found = []
    fence = None
    for line in text.splitlines():
        m = re.match(r"^\s*(```+|~~~+)\s*([\w-]*)", line)
        if m:
            if fence is None:
                fence = m.group(2).lower() or "-"
            else:
                fence = None
            continue
        if fence is not None:
            if fence in SHELL_FENCES:
                if fence in ("console", "shell-session"):
                    if not line.lstrip().startswith(("$ ", "# ")):
                        continue
                    line = line.lstrip()[2:]
                for w in commands_in(line):
                    found.append((w, "block"))
            continue
        for span in re.findall(r"`([^`]+)`", line):
            for w in commands_in(span)[:1]:
                found.append((w, "inline"))
    return found


def check_runbits(root):
    e = []
    modes = git_modes(root)
    for md in sorted(p for p in modes if p.endswith(".md")):
        with open(os.path.join(root, md), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for word, kind in runnable_paths(text):
            if "/" not in word or word.startswith(("/", "$", "~", "http")):
                continue
            # Commands in the Markdown files run from the repository's root.
            path = os.path.normpath(word)
            if kind == "inline":
                # an inline mention counts when it names a script file
                full = os.path.join(root, path)
                if path not in modes or not os.path.isfile(full):
                    continue
                with open(full, "rb") as f:
                    if f.read(2) != b"#!":
                        continue
            if path not in modes:
                e.append("%s runs %s, which git does not track" % (md, word))
            elif modes[path] != "100755":
                e.append("%s runs %s, but git has it as mode %s, without the run bit "
                         "(git update-index --chmod=+x %s)" % (md, word, modes[path], path))
    # The packaging runs these by path too: dpkg-buildpackage runs
    # debian/rules, autopkgtest every test that debian/tests/control names.
    packaged = ["debian/rules"] if "debian/rules" in modes else []
    tc = os.path.join(root, "debian", "tests", "control")
    if os.path.isfile(tc):
        with open(tc, encoding="utf-8") as f:
            for m in re.finditer(r"^Tests:\s*(.*(?:\n[ \t].*)*)", f.read(), re.M):
                packaged += ["debian/tests/" + t for t in re.split(r"[\s,]+", m.group(1)) if t]
    for path in packaged:
        if modes.get(path) != "100755":
            e.append("%s is run by the packaging, but git has it as mode %s, without the run bit"
                     % (path, modes.get(path, "(untracked)")))
    return sorted(set(e))


# ---------------------------------------------------------------------------
# Paths outside the repository
# ---------------------------------------------------------------------------

def outside_patterns(root):
    # Spelt in pieces so that this file does not name them itself.
    pats = ["/" + "work" + "/", "../" + "shared", "/" + "home" + "/", "/" + "Users" + "/"]
    root = os.path.realpath(root)
    pats.append(root + "/")
    parent = os.path.dirname(root)
    if parent.count("/") >= 2:        # e.g. a workspace folder, not /tmp or /
        pats.append(parent + "/")
    return sorted(set(pats))


def check_paths(root):
    e = []
    pats = [p.encode() for p in outside_patterns(root)]
    for path in sorted(git_modes(root)):
        full = os.path.join(root, path)
        if not os.path.isfile(full) or os.path.islink(full):
            continue
        with open(full, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue                  # binary
        for n, line in enumerate(data.split(b"\n"), 1):
            for p in pats:
                if p in line:
                    e.append("%s:%d names %s: %s" % (path, n, p.decode(),
                             line.decode("utf-8", "replace").strip()[:120]))
    return e


# ---------------------------------------------------------------------------
# debian/control from debian/control.in
# ---------------------------------------------------------------------------

def check_control(root):
    if not shutil.which("pg_buildext"):
        return ["pg_buildext is not installed (postgresql-server-dev-all)"]
    r = subprocess.run(["pg_buildext", "checkcontrol"], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, PG_UPDATECONTROL="no"))
    if r.returncode != 0:
        return ["debian/control differs from what pg_buildext makes of debian/control.in "
                "(run pg_buildext updatecontrol):\n" + r.stdout.decode("utf-8", "replace")[-2000:]]
    return []


def check_mutants(root):
    """Every deliberate bug of make check-mutants still applies, exactly
    (no fuzz), to the tree as it is: a patch that drifted would make
    check-mutants report it BROKEN only when someone runs it."""
    mutdir = os.path.join(root, "test", "mutants")
    if not os.path.isdir(mutdir):
        return []
    if not shutil.which("patch"):
        return ["patch(1) is not installed"]
    problems = []
    for name in sorted(os.listdir(mutdir)):
        if not name.endswith(".patch"):
            continue
        with open(os.path.join(mutdir, name), "rb") as f:
            diff = f.read()
        r = subprocess.run(["patch", "--dry-run", "--batch", "--fuzz=0", "-p1", "-d", root],
                           input=diff, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            problems.append("test/mutants/%s no longer applies to the tree; make it the same "
                            "bug in the code as it is now" % name)
    return problems


# ---------------------------------------------------------------------------
# Self-test: each check must fail on broken input
# ---------------------------------------------------------------------------

def self_test_meta(root):
    with open(os.path.join(root, "META.json"), encoding="utf-8") as f:
        good = json.load(f)
    spoilers = {
        "no name": lambda m: m.pop("name"),
        "name with a space": lambda m: m.__setitem__("name", "qxt portability"),
        "version not semver": lambda m: m.__setitem__("version", "1.1"),
        "unknown license": lambda m: m.__setitem__("license", "beerware"),
        "maintainer empty": lambda m: m.__setitem__("maintainer", []),
        "provides without version": lambda m: m["provides"]["qxt_portability"].pop("version"),
        "unknown key": lambda m: m.__setitem__("homepage", "https://example.org/"),
        "meta-spec 2": lambda m: m["meta-spec"].__setitem__("version", "2.0.0"),
        "bad version range": lambda m: m["prereqs"]["runtime"]["requires"].__setitem__("PostgreSQL", "15+"),
        "bad release_status": lambda m: m.__setitem__("release_status", "beta"),
        "tag with a slash": lambda m: m.__setitem__("tags", ["a/b"]),
        "provides version differs from the control file": lambda m:
            m["provides"]["qxt_portability"].__setitem__("version", "9.9.0"),
        "file that does not exist": lambda m:
            m["provides"]["qxt_portability"].__setitem__("docfile", "doc/none.md"),
        "version differs from debian/changelog": lambda m: m.__setitem__("version", "9.9.9"),
    }
    missed = []
    if validate_meta(good) or meta_consistency(good, root):
        missed.append("the real META.json does not pass, so the self-test proves nothing")
    for what, spoil in spoilers.items():
        m = copy.deepcopy(good)
        spoil(m)
        if not (validate_meta(m) + meta_consistency(m, root)):
            missed.append("META.json with %s was accepted" % what)
    return missed


def self_test_tree():
    missed = []
    tmp = tempfile.mkdtemp(prefix="qxt-check-repo.")
    try:
        def git(*a):
            subprocess.run(["git", "-C", tmp] + list(a), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        git("init", "-q")
        os.makedirs(os.path.join(tmp, "scripts"))
        for name, mode in (("good.sh", 0o755), ("bad.sh", 0o644), ("inline.sh", 0o644)):
            p = os.path.join(tmp, "scripts", name)
            with open(p, "w") as f:
                f.write("#!/bin/sh\ntrue\n")
            os.chmod(p, mode)
        with open(os.path.join(tmp, "README.md"), "w") as f:
            f.write("```sh\nscripts/good.sh\nFOO=1 scripts/bad.sh --x   # comment\n```\n"
                    "Run `scripts/inline.sh now`.\n")
        os.makedirs(os.path.join(tmp, "debian"))
        with open(os.path.join(tmp, "debian", "rules"), "w") as f:
            f.write("#!/usr/bin/make -f\n")
        with open(os.path.join(tmp, "notes.txt"), "w") as f:
            f.write("see " + "/" + "work" + "/shared/x.md and " + tmp + "/y\n")
        git("add", "-A")
        rb = check_runbits(tmp)
        if not any("scripts/bad.sh" in x for x in rb):
            missed.append("runbits: a script run in a code block without its run bit passed")
        if not any("scripts/inline.sh" in x for x in rb):
            missed.append("runbits: a script run in inline code without its run bit passed")
        if not any("debian/rules" in x for x in rb):
            missed.append("runbits: a debian/rules without its run bit passed")
        if any("scripts/good.sh" in x for x in rb):
            missed.append("runbits: a script with its run bit was reported")
        ps = check_paths(tmp)
        if not any("/" + "work" + "/" in x for x in ps):
            missed.append("paths: a workspace path passed")
        if not any(os.path.realpath(tmp) + "/" in x for x in ps):
            missed.append("paths: the checkout's own absolute path passed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return missed


def self_test_mutants(root):
    tmp = tempfile.mkdtemp(prefix="qxt-check-mutants.")
    try:
        os.makedirs(os.path.join(tmp, "test", "mutants"))
        with open(os.path.join(tmp, "f.txt"), "w") as f:
            f.write("one\ntwo\nthree\n")
        def write(text):
            with open(os.path.join(tmp, "test", "mutants", "01-x.patch"), "w") as f:
                f.write("Mutant: x\n\n--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n one\n"
                        + text + " three\n")
        write("-two\n+TWO\n")
        if check_mutants(tmp):
            return ["mutants: a patch that applies was reported"]
        write("-zwei\n+TWO\n")
        if not check_mutants(tmp):
            return ["mutants: a patch that no longer applies passed"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return []


def self_test_control(root):
    if not shutil.which("pg_buildext"):
        return ["pg_buildext is not installed (postgresql-server-dev-all)"]
    tmp = tempfile.mkdtemp(prefix="qxt-check-control.")
    try:
        shutil.copytree(os.path.join(root, "debian"), os.path.join(tmp, "debian"))
        p = os.path.join(tmp, "debian", "control.in")
        with open(p, encoding="utf-8") as f:
            s = f.read()
        with open(p, "w", encoding="utf-8") as f:
            f.write(s.replace("Section: database", "Section: misc"))
        if not check_control(tmp):
            return ["control: a debian/control that differs from control.in passed"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return []


# ---------------------------------------------------------------------------

def main(argv):
    self_test = "--self-test" in argv
    checks = [
        ("meta", "META.json is valid (PGXN Meta Spec 1.0.0) and agrees with the tree",
         lambda: check_meta(ROOT)),
        ("runbits", "every script the Markdown files run by path has its run bit in git",
         lambda: check_runbits(ROOT)),
        ("paths", "no tracked file names a path outside the repository",
         lambda: check_paths(ROOT)),
        ("control", "debian/control is up to date with debian/control.in",
         lambda: check_control(ROOT)),
        ("mutants", "every test/mutants patch applies exactly to the tree",
         lambda: check_mutants(ROOT)),
    ]
    if self_test:
        checks += [
            ("self-test meta", "the META.json check rejects 14 kinds of broken META.json",
             lambda: self_test_meta(ROOT)),
            ("self-test tree", "the run-bit and path checks catch a bad throwaway repository",
             self_test_tree),
            ("self-test control", "the control check catches a stale debian/control",
             lambda: self_test_control(ROOT)),
            ("self-test mutants", "the mutants check catches a patch that no longer applies",
             lambda: self_test_mutants(ROOT)),
        ]
    passed = failed = 0
    for name, what, fn in checks:
        try:
            problems = fn()
        except Exception as ex:  # a check that cannot run has failed
            problems = ["the check could not run: %r" % ex]
        if problems:
            failed += 1
            print("FAIL %-17s %s" % (name, what))
            for p in problems:
                print("     " + p.replace("\n", "\n     "))
        else:
            passed += 1
            print("ok   %-17s %s" % (name, what))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
