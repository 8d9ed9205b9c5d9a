#!/usr/bin/env python3
"""QXT number-portability vendor emulator (sandbox + fault injection).

Standard library only.  See README.md in this directory for the behaviour,
the deterministic number rules, the fault switches and the control API.
"""

import argparse
import itertools
import json
import math
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

# --------------------------------------------------------------------------
# Vendor constants
# --------------------------------------------------------------------------

REASONS = {
    0: "Succ",
    1: "请求参数缺失,apikey长度不对,查询的手机号码长度不对,查询的手机号码有误",
    -1: "apikey信息不匹配(用户信息不正确)apikey不正确",
    -2: "查询的手机号码长度不对",
    -3: "请填写正确的手机号码",
    -4: "未查询到相关信息或填写正确的手机号码再查询",
    -5: "当前余额不足发起本次查询请求,请与供应商联系",
    -6: "当前帐户已被停用,请与供应商联系",
    -7: "请使用post方式进行提交,或联系供应商技术支持",
    -8: "系统错误,请稍候再试",
    -9: "JSON格式错误,请检查后再进行提交",
    -10: "请求超出最大1000个号码总数",
}
UNKNOWN_REASON = "未知错误"

MAX_BATCH = 1000

CM, CU, CT, CB = "移动", "联通", "电信", "广电"
FEE_NAMES = {"prepaid": "预付费", "postpaid": "后付费"}

# 45 areas: the length and order are chosen so that the vendor's own
# examples come out with the documented areas (13972565391 -> 湖北-宜昌,
# 13798361236 and 13352918995 -> 广东-深圳, 13163320753 -> 湖北-武汉).
AREAS = (
    "北京-北京", "上海-上海", "天津-天津", "重庆-重庆", "广东-广州",
    "浙江-杭州", "江苏-南京", "四川-成都", "湖南-长沙", "河南-郑州",
    "山东-济南", "湖北-宜昌", "福建-厦门", "陕西-西安", "辽宁-沈阳",
    "吉林-长春", "黑龙江-哈尔滨", "河北-石家庄", "山西-太原", "安徽-合肥",
    "江西-南昌", "广西-南宁", "云南-昆明", "贵州-贵阳", "甘肃-兰州",
    "海南-海口", "广东-深圳", "内蒙古-呼和浩特", "新疆-乌鲁木齐", "西藏-拉萨",
    "宁夏-银川", "青海-西宁", "湖北-武汉", "浙江-宁波", "江苏-苏州",
    "山东-青岛", "福建-福州", "广东-东莞", "四川-绵阳", "湖南-岳阳",
    "河南-洛阳", "辽宁-大连", "江苏-无锡", "广东-佛山", "湖北-襄阳",
)

_CM_PREFIXES = [134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158,
                159, 172, 178, 182, 183, 184, 187, 188, 195, 197, 198]
_CU_PREFIXES = [130, 131, 132, 145, 146, 155, 156, 166, 175, 176, 185, 186,
                196]
_CT_PREFIXES = [133, 149, 153, 173, 174, 177, 180, 181, 189, 190, 191, 193,
                199]
_CB_PREFIXES = [192]
_VIRTUAL = {165: CM, 167: CU, 162: CT, 170: CT, 171: CU}
PORT_NEXT = {CM: CT, CT: CU, CU: CM, CB: CM}


def _build_prefix_table():
    """3-digit prefix -> (init carrier, is_virtual), for every 13x..19x."""
    table = {}
    for p in range(130, 200):
        table[str(p)] = (CM, False)  # default for unlisted 1[3-9]x
    for lst, isp in ((_CM_PREFIXES, CM), (_CU_PREFIXES, CU),
                     (_CT_PREFIXES, CT), (_CB_PREFIXES, CB)):
        for p in lst:
            table[str(p)] = (isp, False)
    for p, isp in _VIRTUAL.items():
        table[str(p)] = (isp, True)
    return table


PREFIX = _build_prefix_table()
_DIGITS = frozenset("0123456789")


def classify(m):
    """Vendor-side answer for one number string, exactly as sent.

    Returns (code, res, area, init_isp, now_isp); only code is meaningful
    when code != 0.
    """
    if len(m) != 11:
        return (-2, None, None, None, None)
    if not _DIGITS.issuperset(m):
        return (-3, None, None, None, None)
    info = PREFIX.get(m[:3])
    if info is None:
        return (-3, None, None, None, None)
    if m.endswith("0000"):
        return (-4, None, None, None, None)
    init, virtual = info
    area = AREAS[int(m[3:7]) % len(AREAS)]
    if virtual:
        return (0, "3", area, init, init)
    if m[10] == "7":
        return (0, "1", area, init, PORT_NEXT[init])
    return (0, "0", area, init, init)


_NO_RESULT = (None, None, None, None)
_MINUS5 = (-5,) + _NO_RESULT


def error_obj(code, reason=None):
    return {"code": code,
            "reason": reason if reason is not None
            else REASONS.get(code, UNKNOWN_REASON)}


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------
# Accounts and counters
# --------------------------------------------------------------------------

DEFAULT_ACCOUNTS = {
    "0123456789abcdef0123456789abcdef": ("prepaid", 1000000000, False),
    "postpaid000000000000000000000000": ("postpaid", -2047, False),
    "smallbalance00000000000000000000": ("prepaid", 5, False),
    "disabled000000000000000000000000": ("prepaid", 1000000000, True),
}


class Account:
    __slots__ = ("apikey", "fee_type", "balance", "disabled")

    def __init__(self, apikey, fee_type, balance, disabled):
        self.apikey = apikey
        self.fee_type = fee_type
        self.balance = balance
        self.disabled = disabled

    def to_json(self):
        return {"apikey": self.apikey, "fee_type": self.fee_type,
                "balance": self.balance, "disabled": self.disabled}


class KeyStats:
    """Counters of one apikey since its last reset.  In lean mode the
    per-number maps and the request log are None: only aggregates."""

    def __init__(self, lean=False):
        self.requests = {"carrier": 0, "carrier_batch": 0, "balance": 0}
        self.numbers_sent = 0
        self.sent = None if lean else {}
        self.charged = 0
        self.charged_by_endpoint = {"carrier": 0, "carrier_batch": 0}
        self.charged_numbers = None if lean else {}
        self.refused_429 = 0
        self.refused_window = 0
        self.max_in_flight = 0
        self.key_in_url = 0
        self.connections = set()  # ids of the TCP connections used
        self.log = None if lean else []


# --------------------------------------------------------------------------
# Models: one reading, per key, of each question the vendor leaves open
# --------------------------------------------------------------------------

ACCOUNT_CODES = ("envelope", "elements")
DROP_CHARGES = ("started", "yes", "no")
REFUSE_ANSWERS = ("429", "minus8")
FAILED_CODES = frozenset((-2, -3, -4))  # per-number failures


class Model:
    """Immutable: an update builds a new Model, so a request that took a
    snapshot at its start never sees half of a change."""

    __slots__ = ("account_codes", "failed_charged", "drop_charges",
                 "inflight_limit", "refuse", "refuse_until")

    def __init__(self, account_codes="envelope", failed_charged=False,
                 drop_charges="started", inflight_limit=None, refuse=None,
                 refuse_until=0.0):
        self.account_codes = account_codes
        self.failed_charged = failed_charged
        self.drop_charges = drop_charges
        self.inflight_limit = inflight_limit
        self.refuse = refuse
        self.refuse_until = refuse_until

    def replace(self, **kw):
        d = {k: getattr(self, k) for k in self.__slots__}
        d.update(kw)
        return Model(**d)

    def refusing(self, now):
        """'429' / 'minus8' while a refusal window is open, else None."""
        if self.refuse is not None and now < self.refuse_until:
            return self.refuse
        return None

    def to_json(self, apikey, now):
        ans = self.refusing(now)
        return {"apikey": apikey,
                "account_codes": self.account_codes,
                "failed_charged": self.failed_charged,
                "drop_charges": self.drop_charges,
                "inflight_limit": self.inflight_limit,
                "refuse": None if ans is None else {
                    "answer": ans,
                    "remaining_ms": int((self.refuse_until - now) * 1000)}}


DEFAULT_MODEL = Model()


def model_update(model, data, now):
    """Applies a POST /_emu/model body to model; returns (model, error)."""
    allowed = {"apikey", "defaults", "account_codes", "failed_charged",
               "drop_charges", "inflight_limit", "refuse", "refuse_ms"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        return None, "unknown field(s): %s" % ", ".join(unknown)
    if data.get("defaults") not in (None, True, False):
        return None, "defaults must be a boolean"
    if data.get("defaults"):
        model = DEFAULT_MODEL
    kw = {}
    if "account_codes" in data:
        if data["account_codes"] not in ACCOUNT_CODES:
            return None, "account_codes: envelope|elements"
        kw["account_codes"] = data["account_codes"]
    if "failed_charged" in data:
        if not isinstance(data["failed_charged"], bool):
            return None, "failed_charged must be a boolean"
        kw["failed_charged"] = data["failed_charged"]
    if "drop_charges" in data:
        if data["drop_charges"] not in DROP_CHARGES:
            return None, "drop_charges: started|yes|no"
        kw["drop_charges"] = data["drop_charges"]
    if "inflight_limit" in data:
        v = data["inflight_limit"]
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                              or v < 1):
            return None, "inflight_limit must be an integer >= 1 or null"
        kw["inflight_limit"] = v
    if "refuse" in data:
        v = data["refuse"]
        if v is None:
            if "refuse_ms" in data:
                return None, "refuse_ms goes with refuse 429|minus8"
            kw["refuse"], kw["refuse_until"] = None, 0.0
        else:
            ms = data.get("refuse_ms")
            if v not in REFUSE_ANSWERS:
                return None, "refuse: 429|minus8|null"
            if not isinstance(ms, int) or isinstance(ms, bool) or ms < 1:
                return None, "refuse needs refuse_ms, an integer >= 1"
            kw["refuse"], kw["refuse_until"] = v, now + ms / 1000.0
    elif "refuse_ms" in data:
        return None, "refuse_ms goes with refuse 429|minus8"
    return model.replace(**kw), None


class State:
    def __init__(self, latency_single_ms, latency_batch_ms, lean=False):
        self.lock = threading.Lock()
        self.lean = lean
        self.initial_config = {"latency_single_ms": latency_single_ms,
                               "latency_batch_ms": latency_batch_ms}
        # Requests of each key being served right now.  Kept apart from
        # the resettable counters and never reset: a reset while requests
        # are in flight must not make the count (and the limit) forget them.
        self.in_flight = {}
        self.reset_all()

    def reset_all(self):
        with self.lock:
            self.accounts = {k: Account(k, f, b, d)
                             for k, (f, b, d) in DEFAULT_ACCOUNTS.items()}
            self.stats = {}
            self.models = {}
            self.fault_counters = {}
            self.config = dict(self.initial_config)

    def reset_key(self, key):
        with self.lock:
            self.stats.pop(key, None)
            self.models.pop(key, None)
            for ck in [c for c in self.fault_counters if c[1] == key]:
                del self.fault_counters[ck]

    def key_stats(self, key):  # lock must be held
        ks = self.stats.get(key)
        if ks is None:
            ks = self.stats[key] = KeyStats(self.lean)
        return ks


# --------------------------------------------------------------------------
# Fault specs
# --------------------------------------------------------------------------

REPLACE = {"minus8", "code", "http500", "http502", "http503", "http429",
           "http400", "http403", "http404",
           "html", "empty", "close", "hang", "wrongshape", "notjson",
           "chargedrop"}
MODIFY = {"reason", "latency", "perendpoint"}
TRANSFORM = {"batchfew", "batchmany", "batchunrequested", "batchreorder",
             "batchnomobile", "trailingcomma", "doublebrace", "resnumber",
             "codestring", "keycase", "balancenumber", "huge", "area"}
TRANSPORT = {"textjson", "truncated", "closemid", "drip"}
ALL_ITEMS = REPLACE | MODIFY | TRANSFORM | TRANSPORT
WITH_ARG = {"code", "reason", "latency", "area"}

LEAN_ERROR = ("per-number data is unavailable: the emulator runs with "
              "--lean (aggregate counters only, no request log)")

HUGE_SIZE = 20 * 1024 * 1024
DRIP_INTERVAL = 0.2
HANG_MAX = 120.0


class FaultError(ValueError):
    pass


_spec_cache = {}


def parse_spec(spec):
    """'minus8*1,latency=50' -> [(name, arg, limit_or_None), ...]."""
    got = _spec_cache.get(spec)
    if got is not None:
        return got
    items = []
    for raw in spec.split(","):
        item = unquote(raw)
        if not item:
            continue
        limit = None
        m = re.fullmatch(r"(.*)\*(\d+)", item, re.S)
        if m:
            item, limit = m.group(1), int(m.group(2))
        name, eq, arg = item.partition("=")
        if name not in ALL_ITEMS:
            raise FaultError("unknown fault item %r" % name)
        if (name in WITH_ARG) != bool(eq):
            raise FaultError("fault item %r: bad argument" % name)
        if name in ("code", "latency"):
            try:
                arg = int(arg)
            except ValueError:
                raise FaultError("fault item %r needs an integer" % name)
            if name == "latency" and arg < 0:
                raise FaultError("latency must be >= 0")
        if name == "perendpoint" and limit is not None:
            raise FaultError("perendpoint takes no *N")
        items.append((name, arg, limit))
    if len(_spec_cache) < 10000:
        _spec_cache[spec] = items
    return items


# --------------------------------------------------------------------------
# Answer trees, transforms and serialisation
# --------------------------------------------------------------------------

def single_tree(m, r):
    code, res, area, init, now = r
    if code != 0:
        return error_obj(code)
    return {"code": 0, "reason": "Succ",
            "result": {"res": res, "Mobile": m, "Area": area,
                       "Init_isp": init, "Now_isp": now}}


def batch_element_tree(m, r):
    code, res, area, init, now = r
    if code != 0:
        return {"code": code, "reason": REASONS[code], "result": {"Mobile": m}}
    return {"code": 0, "reason": "Succ",
            "result": {"res": res, "Mobile": m, "Area": area,
                       "Init_Isp": init, "Now_Isp": now}}


_BATCH_OK = ('{"code":0,"reason":"Succ","result":{"res":"%s","Mobile":"%s",'
             '"Area":"%s","Init_Isp":"%s","Now_Isp":"%s"}}').encode("utf-8")
_UTF8 = {s: s.encode("utf-8")
         for s in AREAS + (CM, CU, CT, CB, "0", "1", "3")}


def batch_fast_render(numbers, results):
    """The array answer as UTF-8 bytes, byte for byte what jdump gives for
    the same tree (a test checks it), about twice as fast."""
    parts = []
    app = parts.append
    enc = _UTF8
    for m, r in zip(numbers, results):
        if r[0] == 0:  # m passed the number checks: 11 ASCII digits
            app(_BATCH_OK % (enc[r[1]], m.encode("ascii"), enc[r[2]],
                             enc[r[3]], enc[r[4]]))
        else:
            app(('{"code":%d,"reason":"%s","result":{"Mobile":%s}}'
                 % (r[0], REASONS[r[0]], jdump(m))).encode("utf-8"))
    return b"[" + b",".join(parts) + b"]"


def unasked_number(numbers):
    asked = set(numbers)
    n = 13800138001
    while str(n) in asked:
        n += 1
    return str(n)


_KEYCASE = {"Init_isp": "Init_Isp", "Now_isp": "Now_Isp",
            "Init_Isp": "Init_isp", "Now_Isp": "Now_isp"}


def _walk(o, fn):
    if isinstance(o, list):
        for x in o:
            _walk(x, fn)
    elif isinstance(o, dict):
        fn(o)
        for v in list(o.values()):
            _walk(v, fn)


def apply_transforms(tree, active, numbers):
    names = [a[0] for a in active]
    area = next((a[1] for a in active if a[0] == "area"), None)
    if isinstance(tree, list):
        if "batchfew" in names and tree:
            tree.pop()
        if "batchmany" in names:
            extra = unasked_number(numbers)
            tree.append(batch_element_tree(extra, classify(extra)))
        if "batchunrequested" in names and tree:
            res = tree[0].get("result")
            if isinstance(res, dict):
                res["Mobile"] = unasked_number(numbers)
        if "batchreorder" in names:
            tree.reverse()
        if "batchnomobile" in names:
            for el in tree:
                if isinstance(el.get("result"), dict):
                    el["result"].pop("Mobile", None)

    def fix(d):
        if area is not None and "Area" in d:
            d["Area"] = area
        if "resnumber" in names and isinstance(d.get("res"), str):
            d["res"] = int(d["res"])
        if "codestring" in names and isinstance(d.get("code"), int):
            d["code"] = str(d["code"])
        if "balancenumber" in names and isinstance(d.get("balance"), str):
            d["balance"] = int(d["balance"])
        if "keycase" in names and any(k in _KEYCASE for k in d):
            items = list(d.items())
            d.clear()
            d.update((_KEYCASE.get(k, k), v) for k, v in items)
    _walk(tree, fix)
    if "huge" in names:
        target = tree
        if isinstance(tree, list):
            target = tree[0] if tree and isinstance(tree[0], dict) else None
        if isinstance(target, dict):
            base = len(serialize(tree, active).encode("utf-8"))
            pad = max(0, HUGE_SIZE - base)
            target["reason"] = str(target.get("reason", "")) + "x" * pad
    return tree


def _ser(o, tc, db, key):
    if isinstance(o, dict):
        items = [jdump(k) + ":" + _ser(v, tc, db, k) for k, v in o.items()]
        s = "{" + ",".join(items) + ("," if tc and items else "") + "}"
        if db and key == "result":
            s = "{" + s + "}"
        return s
    if isinstance(o, list):
        return "[" + ",".join(_ser(x, tc, db, None) for x in o) + "]"
    return jdump(o)


def serialize(tree, active):
    names = [a[0] for a in active]
    tc, db = "trailingcomma" in names, "doublebrace" in names
    if tc or db:
        return _ser(tree, tc, db, None)
    return jdump(tree)


# --------------------------------------------------------------------------
# HTTP handling
# --------------------------------------------------------------------------

JSON_CT = "application/json; charset=utf-8"
HTML_CT = "text/html; charset=utf-8"
TEXT_CT = "text/plain; charset=utf-8"
ENDPOINTS = {"/carrier": "carrier", "/carrier_batch": "carrier_batch",
             "/balance": "balance"}
HTTP_FAULTS = {"http500": 500, "http502": 502, "http503": 503, "http429": 429,
               "http400": 400, "http403": 403, "http404": 404}


class Reply:
    """A prepared HTTP answer (or a deliberate non-answer)."""

    def __init__(self, status=200, ctype=JSON_CT, body=b"", headers=None,
                 code=None):
        self.status = status
        self.ctype = ctype
        self.body = body
        self.headers = headers or []
        self.code = code  # vendor code for the request log (None: n/a)


def mask_query(query):
    out = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        if unquote(name.replace("+", " ")) == "apikey":
            out.append(name + "=***")
        else:
            out.append(part)
    return "&".join(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qxt-emulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True

    # ---- plumbing -------------------------------------------------------

    _conn_ids = itertools.count(1)

    def setup(self):
        super().setup()
        # One handler serves one TCP connection (keep-alive requests
        # included), so this id tells clients' connection reuse apart.
        self.conn_id = next(Handler._conn_ids)

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            # A client that (wrongly) puts the key in the URL must not have
            # it copied into a log.
            line = re.sub(r"(apikey=)[^&\s\"]*", r"\1***", fmt % args,
                          flags=re.IGNORECASE)
            sys.stderr.write("%s - [%s] %s\n" % (
                self.address_string(), self.log_date_time_string(), line))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _head(self, status, headers):
        phrase = self.responses.get(status, ("",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, phrase),
                 "Server: " + self.server_version,
                 "Date: " + self.date_time_string()]
        lines += ["%s: %s" % h for h in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status, ctype, body, extra=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [("Content-Type", ctype),
                   ("Content-Length", str(len(body)))] + list(extra)
        if self.close_connection:
            headers.append(("Connection", "close"))
        self.log_request(status, len(body))
        self._leave()
        self.wfile.write(self._head(status, headers) + body)

    def _send_json(self, obj, status=200):
        self._send(status, JSON_CT, jdump(obj))

    # ---- routing --------------------------------------------------------

    def _dispatch(self, method):
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(400, TEXT_CT, "bad request body\n")
            return
        raw_path, _, query = self.path.partition("?")
        path = re.sub("/+", "/", raw_path)
        if path.startswith("/_emu/"):
            self._control(method, path, query, body)
            return
        spec = None
        endpoint_path = path
        if path.startswith("/_fault/"):
            parts = path.split("/", 3)
            if len(parts) == 4:
                spec, endpoint_path = parts[2], "/" + parts[3]
        endpoint = ENDPOINTS.get(endpoint_path.rstrip("/") or "/")
        if endpoint is None:
            self._send(404, TEXT_CT, "not found\n")
            return
        active = []
        if spec is not None:
            try:
                active = parse_spec(spec)
            except FaultError as e:
                self._send(400, TEXT_CT, "bad fault spec: %s\n" % e)
                return
        self._vendor(method, endpoint, path, query, body, spec, active)

    # ---- vendor endpoints -----------------------------------------------

    def _params(self, method, query, body):
        qparams = parse_qsl(query, keep_blank_values=True)
        params = {}
        ctype = (self.headers.get("Content-Type") or "").lower()
        if method == "POST" and body and (
                not ctype or "x-www-form-urlencoded" in ctype):
            for k, v in parse_qsl(body.decode("utf-8", "replace"),
                                  keep_blank_values=True):
                params.setdefault(k, v)
        for k, v in qparams:
            params.setdefault(k, v)
        key_in_url = any(k == "apikey" for k, _ in qparams)
        qkey = next((v for k, v in qparams if k == "apikey"), None)
        return params, key_in_url, qkey

    def _vendor(self, method, endpoint, path, query, body, spec, active):
        st = self.server.state
        params, key_in_url, qkey = self._params(method, query, body)
        batch = None  # parsed JSON batch body, or None when malformed
        numbers = []
        if endpoint == "carrier_batch":
            key = qkey
            if method == "POST":
                try:
                    data = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    data = None
                if isinstance(data, dict):
                    ak, pn = data.get("ApiKey"), data.get("PhoneNumbers")
                    if isinstance(ak, str):
                        key = ak
                        if (isinstance(pn, list)
                                and all(isinstance(x, str) for x in pn)):
                            batch = (ak, pn)
                            numbers = pn
        else:
            key = params.get("apikey")
            if endpoint == "carrier" and params.get("mobile"):
                numbers = [params["mobile"]]
        key = key or ""

        entry = {"endpoint": endpoint, "method": method, "path": path,
                 "query": mask_query(query) if query else "",
                 "key_in_url": key_in_url, "numbers": len(numbers),
                 "fault": spec or "", "t": round(time.time(), 6),
                 "code": None, "status": None, "charged": 0,
                 "refused": None}
        now = time.monotonic()
        with st.lock:
            model = st.models.get(key, DEFAULT_MODEL)
            ks = st.key_stats(key)
            ks.requests[endpoint] += 1
            ks.numbers_sent += len(numbers)
            sent = ks.sent
            if sent is not None:
                for m in numbers:
                    sent[m] = sent.get(m, 0) + 1
            if key_in_url:
                ks.key_in_url += 1
            ks.connections.add(self.conn_id)
            if ks.log is not None:
                entry["n"] = len(ks.log) + 1
                ks.log.append(entry)
            # Refusals come before anything else: the request is not
            # served, not charged, not in flight and uses up no fault.
            refused = model.refusing(now)
            if refused is not None:
                ks.refused_window += 1
                entry["refused"] = "window"
            else:
                live = st.in_flight.get(key, 0)
                if (model.inflight_limit is not None
                        and live >= model.inflight_limit):
                    refused = "inflight"
                    ks.refused_429 += 1
                    entry["refused"] = "inflight"
                else:
                    # Check and count in one locked step: the limit is
                    # exact under any number of threads.
                    live += 1
                    st.in_flight[key] = live
                    if live > ks.max_in_flight:
                        ks.max_in_flight = live
            if refused is None and spec is not None:
                ck = (spec, key)
                if any(a[0] == "perendpoint" for a in active):
                    ck = (spec, key, endpoint)
                idx = st.fault_counters.get(ck, 0)
                st.fault_counters[ck] = idx + 1
                active = [a for a in active if a[2] is None or idx < a[2]]
            cfg = st.config
            latency = (cfg["latency_batch_ms"] if endpoint == "carrier_batch"
                       else cfg["latency_single_ms"])
        if refused is not None:
            self._refuse(refused, model, now, entry)
            return
        self._inflight = key
        try:
            self._answer(method, endpoint, params, batch, numbers, key,
                         active, latency, entry, model)
        finally:
            self._leave()

    _inflight = None

    def _leave(self):
        """End the request's in-flight period (just before its last write,
        so a strictly sequential client never sees two at once)."""
        key = self._inflight
        if key is not None:
            self._inflight = None
            st = self.server.state
            with st.lock:
                st.in_flight[key] -= 1

    def _refuse(self, why, model, now, entry):
        """Answers a request refused by the inflight limit or a refusal
        window: at once, without latency, charging nothing."""
        if why == "minus8":
            entry["code"], entry["status"] = -8, 200
            self._send_json(error_obj(-8))
            return
        retry = 1
        if why == "429":  # the window: come back when it closes
            retry = max(1, int(math.ceil(model.refuse_until - now)))
        entry["status"] = 429
        self._send(429, HTML_CT, (
            "<html><body><h1>429 Too Many Requests</h1></body></html>"),
            [("Retry-After", str(retry))])

    def _answer(self, method, endpoint, params, batch, numbers, key,
                active, latency, entry, model):
        names = [a[0] for a in active]
        reason_override = None
        for name, arg, _ in active:
            if name == "latency":
                latency = arg
            elif name == "reason" and reason_override is None:
                reason_override = arg
        replace = next((a for a in active if a[0] in REPLACE), None)
        rname = replace[0] if replace is not None else None
        transport = next((n for n in names
                          if n in ("truncated", "closemid", "drip")), None)

        # Does the vendor process (and charge) this request?  See the
        # README's table of faults and models.
        if rname is None:
            process = True
            charge = not (transport is not None
                          and model.drop_charges == "no")
        elif rname == "chargedrop":
            process = charge = True
        elif rname in ("close", "hang", "empty"):
            process = charge = model.drop_charges == "yes"
        else:
            process = charge = False
        tree = None
        fast = None
        if process:
            if endpoint == "carrier":
                tree = self._do_single(params, key, model, charge, entry)
            elif endpoint == "balance":
                tree = self._do_balance(params)
            else:
                tree, fast = self._do_batch(method, batch, key, model,
                                            charge, entry)

        if rname == "hang":
            entry["status"] = "hang"
            self._hang()
            return
        if rname in ("close", "chargedrop"):
            if latency:
                time.sleep(latency / 1000.0)
            entry["status"] = "close"
            self.close_connection = True
            return

        reply = None
        if replace is not None:
            name, arg = replace[0], replace[1]
            tree = fast = None
            if name == "minus8":
                tree = error_obj(-8, reason_override)
            elif name == "code":
                tree = error_obj(arg, reason_override)
            elif name == "wrongshape":
                tree = {"foo": 1}
            elif name == "notjson":
                reply = Reply(200, JSON_CT, b"this is not json")
            elif name == "html":
                reply = Reply(200, HTML_CT, (
                    "<html><head><title>系统维护</title></head><body>"
                    "<h1>系统维护中</h1><p>Service temporarily unavailable."
                    "</p></body></html>").encode("utf-8"))
            elif name == "empty":
                reply = Reply(200, JSON_CT, b"")
            else:  # http4xx / 5xx / 429
                status = HTTP_FAULTS[name]
                hdrs = [("Retry-After", "1")] if status in (429, 503) else []
                phrase = self.responses.get(status, ("",))[0]
                reply = Reply(status, HTML_CT, (
                    "<html><body><h1>%d %s</h1></body></html>"
                    % (status, phrase)).encode("utf-8"), hdrs)

        if reply is None:
            if isinstance(tree, dict):
                entry["code"] = tree.get("code")
            else:
                entry["code"] = 0
            if any(n in TRANSFORM for n in names):
                if fast is not None:
                    tree = [batch_element_tree(m, r) for m, r in zip(*fast)]
                tree = apply_transforms(tree, active, numbers)
                text = serialize(tree, active)
            elif fast is not None:
                text = batch_fast_render(*fast)
            else:
                text = jdump(tree)
            if isinstance(text, str):
                text = text.encode("utf-8")
            reply = Reply(200, JSON_CT, text)
            if "textjson" in names:
                reply.ctype = HTML_CT
        entry["status"] = reply.status

        if latency:
            time.sleep(latency / 1000.0)
        if transport is None:
            self._send(reply.status, reply.ctype, reply.body, reply.headers)
        elif transport == "truncated":
            self._send_truncated(reply)
        elif transport == "closemid":
            self._send_closemid(reply)
        else:
            self._send_drip(reply)

    def _account(self, apikey):
        """Common apikey checks. Returns (account, None) or (None, error)."""
        if apikey is None or len(apikey) != 32:
            return None, error_obj(1)
        acct = self.server.state.accounts.get(apikey)
        if acct is None:
            return None, error_obj(-1)
        if acct.disabled:
            return None, error_obj(-6)
        return acct, None

    def _charge(self, acct, key, endpoint, charged, entry):
        """Charges one unit per number in charged (lock must be held).
        The counters are looked up now, not at the request's start, so a
        charge made after a reset of the key is never lost."""
        n = len(charged)
        if not n:
            return
        acct.balance -= n
        ks = self.server.state.key_stats(key)
        ks.charged += n
        ks.charged_by_endpoint[endpoint] += n
        cn = ks.charged_numbers
        if cn is not None:
            for m in charged:
                cn[m] = cn.get(m, 0) + 1
        entry["charged"] += n

    def _do_single(self, params, key, model, charge, entry):
        st = self.server.state
        with st.lock:
            acct, err = self._account(params.get("apikey"))
        if err:
            return err
        m = params.get("mobile")
        if not m:
            return error_obj(1)
        r = classify(m)
        if r[0] != 0 and not (model.failed_charged and r[0] in FAILED_CODES):
            return error_obj(r[0])  # free: no balance needed
        with st.lock:
            if acct.fee_type == "prepaid" and acct.balance < 1:
                return error_obj(-5)
            if charge:
                self._charge(acct, key, "carrier", (m,), entry)
        return single_tree(m, r)

    def _do_balance(self, params):
        st = self.server.state
        with st.lock:
            acct, err = self._account(params.get("apikey"))
            if err:
                return err
            return {"code": 0, "reason": "Succ",
                    "result": {"feeType": FEE_NAMES[acct.fee_type],
                               "balance": str(acct.balance)}}

    def _do_batch(self, method, batch, key, model, charge, entry):
        """Returns (tree, None) for a request-level answer or
        (None, (numbers, results)) for an array answer."""
        if method != "POST":
            return error_obj(-7), None
        if batch is None:
            return error_obj(-9), None
        ak, pn = batch
        st = self.server.state
        elements = model.account_codes == "elements"
        with st.lock:
            acct, err = self._account(ak)
        if err and not (elements and err["code"] in (-1, -6)):
            return err, None
        if len(pn) > MAX_BATCH:
            return error_obj(-10), None
        if not pn:
            return error_obj(1), None
        if err:  # elements model: every element carries -1/-6, no charge
            return None, (pn, [(err["code"],) + _NO_RESULT] * len(pn))
        results = [classify(m) for m in pn]
        if model.failed_charged:
            due = [i for i, r in enumerate(results)
                   if r[0] == 0 or r[0] in FAILED_CODES]
        else:
            due = [i for i, r in enumerate(results) if r[0] == 0]
        with st.lock:
            if acct.fee_type == "prepaid" and len(due) > acct.balance:
                if not elements:
                    return error_obj(-5), None
                # the first k chargeable numbers fit, the rest answer -5
                k = max(acct.balance, 0)
                for i in due[k:]:
                    results[i] = _MINUS5
                due = due[:k]
            if charge:
                self._charge(acct, key, "carrier_batch",
                             [pn[i] for i in due], entry)
        return None, (pn, results)

    # ---- deliberate transport failures ----------------------------------

    def _client_gone(self):
        conn = self.connection
        try:
            r, _, _ = select.select([conn], [], [], 0.1)
            if not r:
                return False
            if isinstance(conn, ssl.SSLSocket):
                raw = socket.fromfd(conn.fileno(), socket.AF_INET,
                                    socket.SOCK_STREAM)
                try:
                    data = raw.recv(1, socket.MSG_PEEK)
                finally:
                    raw.close()
            else:
                data = conn.recv(1, socket.MSG_PEEK)
            return data == b""
        except OSError:
            return True

    def _hang(self):
        self.close_connection = True
        deadline = time.monotonic() + HANG_MAX
        while time.monotonic() < deadline and not self.server.stopping:
            if self._client_gone():
                return
            time.sleep(0.05)

    def _send_truncated(self, reply):
        self.close_connection = True
        body = reply.body
        head = self._head(reply.status, [
            ("Content-Type", reply.ctype),
            ("Content-Length", str(len(body)))] + reply.headers)
        self.log_request(reply.status, len(body))
        self._leave()
        self.wfile.write(head + body[:len(body) // 2])

    def _send_closemid(self, reply):
        self.close_connection = True
        body = reply.body
        head = self._head(reply.status, [
            ("Content-Type", reply.ctype),
            ("Transfer-Encoding", "chunked")] + reply.headers)
        part = body[:max(1, len(body) // 2)]
        self.log_request(reply.status, "-")
        self._leave()
        self.wfile.write(head + b"%x\r\n" % len(part) + part + b"\r\n")

    def _send_drip(self, reply):
        body = reply.body
        head = self._head(reply.status, [
            ("Content-Type", reply.ctype),
            ("Content-Length", str(len(body)))] + reply.headers)
        self.log_request(reply.status, len(body))
        try:
            self.wfile.write(head)
            for i in range(len(body)):
                if self.server.stopping:
                    break
                time.sleep(DRIP_INTERVAL)
                if i == len(body) - 1:
                    self._leave()
                self.wfile.write(body[i:i + 1])
        except OSError:
            self.close_connection = True

    # ---- control API ----------------------------------------------------

    def _control(self, method, path, query, body):
        st = self.server.state
        q = dict(parse_qsl(query, keep_blank_values=True))
        data = {}
        if body.strip():
            try:
                data = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._send_json({"error": "body is not JSON"}, 400)
                return
            if not isinstance(data, dict):
                self._send_json({"error": "body must be a JSON object"}, 400)
                return
        name = path[len("/_emu/"):].rstrip("/")

        if name == "health":
            self._send(200, TEXT_CT, "ok")
        elif name == "stats" and method == "GET":
            key = q.get("apikey", "")
            with st.lock:
                ks = st.stats.get(key) or KeyStats(st.lean)
                acct = st.accounts.get(key)
                lean = st.lean
                cn = ks.charged_numbers
                out = {"requests": dict(ks.requests),
                       "numbers_sent": ks.numbers_sent,
                       "distinct_numbers": None if lean else len(ks.sent),
                       "sent": None if lean else dict(ks.sent),
                       "charged": ks.charged,
                       "charged_by_endpoint": dict(ks.charged_by_endpoint),
                       "charged_distinct": None if lean else len(cn),
                       "charged_numbers": None if lean else dict(cn),
                       "balance": acct.balance if acct else None,
                       "in_flight": st.in_flight.get(key, 0),
                       "max_in_flight": ks.max_in_flight,
                       "refused_429": ks.refused_429,
                       "refused_window": ks.refused_window,
                       "key_in_url": ks.key_in_url,
                       "connections": len(ks.connections),
                       "lean": lean}
            self._send_json(out)
        elif name == "requests" and method == "GET":
            if st.lean:
                self._send_json({"error": LEAN_ERROR}, 409)
                return
            key = q.get("apikey", "")
            with st.lock:
                ks = st.stats.get(key)
                log = [dict(e) for e in ks.log] if ks else []
            self._send_json(log)
        elif name == "model":
            if method == "POST":
                key = data.get("apikey")
            else:
                key = q.get("apikey")
            if not isinstance(key, str) or len(key) != 32:
                self._send_json({"error": "apikey must be 32 characters"},
                                400)
                return
            now = time.monotonic()
            err = None
            with st.lock:
                model = st.models.get(key, DEFAULT_MODEL)
                if method == "POST":
                    model, err = model_update(model, data, now)
                    if not err:
                        st.models[key] = model
                out = None if err else model.to_json(key, now)
            if err:
                self._send_json({"error": err}, 400)
            else:
                self._send_json(out)
        elif name == "reset" and method == "POST":
            key = data.get("apikey", q.get("apikey"))
            if key is None:
                st.reset_all()
                self._send_json({"ok": True, "reset": "all"})
            else:
                st.reset_key(key)
                self._send_json({"ok": True, "reset": key})
        elif name == "accounts" and method == "POST":
            key = data.get("apikey")
            if not isinstance(key, str) or len(key) != 32:
                self._send_json({"error": "apikey must be 32 characters"},
                                400)
                return
            fee = data.get("fee_type")
            bal = data.get("balance")
            dis = data.get("disabled")
            if fee is not None and fee not in FEE_NAMES:
                self._send_json({"error": "fee_type: prepaid|postpaid"}, 400)
                return
            if bal is not None and (not isinstance(bal, int)
                                    or isinstance(bal, bool)):
                self._send_json({"error": "balance must be an integer"}, 400)
                return
            if dis is not None and not isinstance(dis, bool):
                self._send_json({"error": "disabled must be a boolean"}, 400)
                return
            with st.lock:
                acct = st.accounts.get(key)
                if acct is None:
                    acct = st.accounts[key] = Account(key, "prepaid", 0, False)
                if fee is not None:
                    acct.fee_type = fee
                if bal is not None:
                    acct.balance = bal
                if dis is not None:
                    acct.disabled = dis
                out = acct.to_json()
            self._send_json(out)
        elif name == "accounts" and method == "GET":
            with st.lock:
                acct = st.accounts.get(q.get("apikey", ""))
                out = acct.to_json() if acct else None
            self._send_json(out, 200 if out else 404)
        elif name == "config":
            if method == "POST":
                new = {}
                for k in ("latency_single_ms", "latency_batch_ms"):
                    if k in data:
                        v = data[k]
                        if (not isinstance(v, int) or isinstance(v, bool)
                                or v < 0):
                            self._send_json({"error": k + " must be an "
                                             "integer >= 0"}, 400)
                            return
                        new[k] = v
                with st.lock:
                    st.config.update(new)
            with st.lock:
                out = dict(st.config)
            self._send_json(out)
        else:
            self._send(404, TEXT_CT, "not found\n")


class EmuServer(ThreadingHTTPServer):
    # Benchmarks open many connections at once; the default backlog of 5
    # would drop SYNs and add a 1 s retransmit to a connect.
    request_queue_size = 128
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, state, tls_ctx=None, quiet=False):
        self.state = state
        self.tls_ctx = tls_ctx
        self.quiet = quiet
        self.stopping = False
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls_ctx is not None:
            # handshake happens lazily in the connection's own thread
            sock = self.tls_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError)):
            return  # client went away / TLS noise: not interesting
        super().handle_error(request, client_address)


def tune_malloc():
    """Every batch answer allocates and frees a few buffers of 100-300 KB.
    glibc's default thresholds give those back to the kernel after each
    request (madvise) and fault them in again on the next: that was half
    of the emulator's CPU at 1000-number batches.  Keep up to 64 MiB
    instead.  Only glibc has mallopt; elsewhere this does nothing."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_TRIM_THRESHOLD, 64 << 20)
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)  # glibc's maximum
    except (OSError, AttributeError):
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(description="QXT vendor API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--latency-single-ms", type=int, default=0)
    ap.add_argument("--latency-batch-ms", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--lean", action="store_true",
                    help="aggregate counters only: no per-number maps, "
                    "no request log (for runs of millions of numbers)")
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("the emulator listens on loopback only")
    tls_ctx = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            ap.error("--tls-cert and --tls-key go together")
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(args.tls_cert, args.tls_key)

    tune_malloc()
    state = State(args.latency_single_ms, args.latency_batch_ms, args.lean)
    if args.host == "::1":
        EmuServer.address_family = socket.AF_INET6
    server = EmuServer((args.host, args.port), state, tls_ctx, args.quiet)
    port = server.server_address[1]

    def stop(signum, frame):
        server.stopping = True
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    if not args.quiet:
        sys.stderr.write("qxt emulator listening on %s://%s:%d\n" % (
            "https" if tls_ctx else "http", args.host, port))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.port_file:
            try:
                os.unlink(args.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
