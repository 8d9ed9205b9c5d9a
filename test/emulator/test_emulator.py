#!/usr/bin/env python3
"""Tests for the QXT vendor emulator (stdlib unittest only).

Run from the repository's root:
    python3 -m unittest discover -s test/emulator -p 'test_*.py' -v
or  python3 test/emulator/test_emulator.py
"""

import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "qxt_emulator.py")
EMUCTL = os.path.join(HERE, "emuctl")

BIG = "0123456789abcdef0123456789abcdef"
POSTPAID = "postpaid000000000000000000000000"
SMALL = "smallbalance00000000000000000000"
DISABLED = "disabled000000000000000000000000"
JSON_CT = "application/json; charset=utf-8"

REASON = {
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


def start_emulator(*extra, scheme="http"):
    tmpdir = tempfile.mkdtemp(prefix="qxtemu")
    port_file = os.path.join(tmpdir, "port")
    proc = subprocess.Popen(
        [sys.executable, EMULATOR, "--host", "127.0.0.1", "--port", "0",
         "--port-file", port_file, "--quiet"] + list(extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("emulator did not start: %r"
                               % (proc.communicate(),))
        time.sleep(0.02)
    with open(port_file) as f:
        port = int(f.read())
    return proc, port, port_file, tmpdir


def stop_emulator(proc, tmpdir):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    shutil.rmtree(tmpdir, ignore_errors=True)


PROC = PORT = PORT_FILE = TMPDIR = None


def setUpModule():
    global PROC, PORT, PORT_FILE, TMPDIR
    PROC, PORT, PORT_FILE, TMPDIR = start_emulator()


def tearDownModule():
    stop_emulator(PROC, TMPDIR)


_keyseq = itertools.count(1)


class Base(unittest.TestCase):
    """Helpers; every test makes its own accounts so counters never mix."""

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)

    def raw(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers-dict-lower, body bytes)."""
        c = conn or self.conn()
        hdrs = dict(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        c.request(method, path, body, hdrs)
        r = c.getresponse()
        data = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, h, data

    def get(self, path, **params):
        q = "?" + urllib.parse.urlencode(params) if params else ""
        st, h, b = self.raw("GET", path + q)
        return json.loads(b)

    def post_form(self, path, **params):
        st, h, b = self.raw(
            "POST", path, urllib.parse.urlencode(params),
            {"Content-Type": "application/x-www-form-urlencoded"})
        return json.loads(b)

    def post_json(self, path, obj, prefix=""):
        body = obj if isinstance(obj, (str, bytes)) else json.dumps(obj)
        st, h, b = self.raw("POST", prefix + path, body,
                            {"Content-Type": "application/json"})
        return json.loads(b)

    def batch(self, key, numbers, prefix=""):
        return self.post_json("/carrier_batch",
                              {"ApiKey": key, "PhoneNumbers": numbers},
                              prefix)

    def control(self, method, path, obj=None, **params):
        q = "?" + urllib.parse.urlencode(params) if params else ""
        body = json.dumps(obj) if obj is not None else None
        st, h, b = self.raw(method, "/_emu/" + path + q, body,
                            {"Content-Type": "application/json"})
        return st, (json.loads(b) if h.get("content-type", "").startswith(
            "application/json") else b.decode())

    def account(self, balance=1000, fee_type="prepaid", disabled=False):
        name = self.id().rsplit(".", 1)[-1][5:]
        key = (name + "_" * 26)[:26] + "%06d" % next(_keyseq)
        st, acct = self.control("POST", "accounts",
                                {"apikey": key, "balance": balance,
                                 "fee_type": fee_type, "disabled": disabled})
        self.assertEqual(st, 200)
        return key

    def stats(self, key):
        return self.control("GET", "stats", apikey=key)[1]

    def balance_of(self, key):
        return self.stats(key)["balance"]

    def assertError(self, ans, code):
        self.assertEqual(ans, {"code": code, "reason": REASON[code]})

    def model(self, key, **fields):
        st, m = self.control("POST", "model", dict(fields, apikey=key))
        self.assertEqual(st, 200, m)
        return m

    def log(self, key):
        st, log = self.control("GET", "requests", apikey=key)
        self.assertEqual(st, 200)
        return log

    def assertMoney(self, key, start, earlier=0):
        """Every way the emulator counts money agrees with the balance:
        a charge one counter missed would show here.  start: the balance
        since the last change through the accounts API; earlier: what was
        charged before that change.  Returns the stats."""
        s = self.stats(key)
        paid = start - s["balance"] + earlier
        self.assertEqual(s["charged"], paid)
        self.assertEqual(sum(s["charged_by_endpoint"].values()), paid)
        self.assertEqual(sum(s["charged_numbers"].values()), paid)
        self.assertEqual(sum(e["charged"] for e in self.log(key)), paid)
        return s

    def wait_for(self, cond, timeout=5.0, what="condition"):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what)
            time.sleep(0.01)


# ---------------------------------------------------------------------------

class SingleLookup(Base):
    def test_get_success_shape_and_headers(self):
        key = self.account()
        st, h, b = self.raw("GET", "/carrier?apikey=%s&mobile=13972565397"
                            % key)
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], JSON_CT)
        self.assertEqual(int(h["content-length"]), len(b))
        self.assertIn("湖北-宜昌".encode("utf-8"), b)  # real UTF-8
        self.assertNotIn(b"\\u", b)
        self.assertEqual(json.loads(b), {
            "code": 0, "reason": "Succ",
            "result": {"res": "1", "Mobile": "13972565397",
                       "Area": "湖北-宜昌", "Init_isp": "移动",
                       "Now_isp": "电信"}})

    def test_post_form_and_post_query(self):
        key = self.account()
        a = self.post_form("/carrier", apikey=key, mobile="13798361236")
        self.assertEqual(a["result"]["Mobile"], "13798361236")
        self.assertEqual(a["result"]["Init_isp"], "移动")
        st, h, b = self.raw("POST", "/carrier?apikey=%s&mobile=13352918995"
                            % key, b"")
        self.assertEqual(json.loads(b)["result"]["Init_isp"], "电信")
        s = self.stats(key)
        self.assertEqual(s["key_in_url"], 1)
        self.assertEqual(s["requests"]["carrier"], 2)

    def test_parameter_names_are_lower_case_only(self):
        key = self.account()
        self.assertError(self.get("/carrier", APIKEY=key,
                                  mobile="13972565391"), 1)
        self.assertError(self.get("/carrier", apikey=key,
                                  Mobile="13972565391"), 1)
        self.assertError(self.post_form("/carrier", ApiKey=key,
                                        mobile="13972565391"), 1)
        self.assertEqual(self.stats(key)["charged"], 0)

    def test_validation_order(self):
        key = self.account()
        self.assertError(self.get("/carrier", mobile="13972565391"), 1)
        self.assertError(self.get("/carrier", apikey="short",
                                  mobile="bad"), 1)
        self.assertError(self.get("/carrier", apikey="z" * 33,
                                  mobile="13972565391"), 1)
        self.assertError(self.get("/carrier", apikey="f" * 32,
                                  mobile="bad"), -1)
        self.assertError(self.get("/carrier", apikey=DISABLED,
                                  mobile="bad"), -6)
        self.assertError(self.get("/carrier", apikey=key), 1)
        self.assertError(self.get("/carrier", apikey=key, mobile=""), 1)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="1397256539"), -2)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="+8613972565391"), -2)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="1397256539a"), -3)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="12972565391"), -3)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="10972565391"), -3)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="13972560000"), -4)
        self.assertEqual(self.stats(key)["charged"], 0)
        self.assertEqual(self.balance_of(key), 1000)

    def test_deterministic_rules(self):
        key = self.account()
        cases = {
            # number: (res, area, init, now)
            "13972565391": ("0", "湖北-宜昌", "移动", "移动"),
            "13972565397": ("1", "湖北-宜昌", "移动", "电信"),
            "13352918997": ("1", "广东-深圳", "电信", "联通"),
            "13163320757": ("1", "湖北-武汉", "联通", "移动"),
            "19212345677": ("1", "安徽-合肥", "广电", "移动"),
            "19212345678": ("0", "安徽-合肥", "广电", "广电"),
            "16512345677": ("3", "安徽-合肥", "移动", "移动"),
            "16712345678": ("3", "安徽-合肥", "联通", "联通"),
            "16212345678": ("3", "安徽-合肥", "电信", "电信"),
            "17012345678": ("3", "安徽-合肥", "电信", "电信"),
            "17112345678": ("3", "安徽-合肥", "联通", "联通"),
            "14012345678": ("0", "安徽-合肥", "移动", "移动"),
            "19900000001": ("0", "北京-北京", "电信", "电信"),
            "18600010001": ("0", "上海-上海", "联通", "联通"),
        }
        for num, (res, area, init, now) in cases.items():
            with self.subTest(num=num):
                a = self.get("/carrier", apikey=key, mobile=num)
                self.assertEqual(a["result"], {
                    "res": res, "Mobile": num, "Area": area,
                    "Init_isp": init, "Now_isp": now})
        # the same number always answers the same
        a1 = self.get("/carrier", apikey=key, mobile="13812345678")
        a2 = self.get("/carrier", apikey=key, mobile="13812345678")
        self.assertEqual(a1, a2)


class BatchLookup(Base):
    def test_success_shape_order_and_key_case(self):
        key = self.account()
        nums = ["13798361236", "13352918995", "13163320753"]
        st, h, b = self.raw("POST", "/carrier_batch",
                            json.dumps({"ApiKey": key, "PhoneNumbers": nums}),
                            {"Content-Type": "application/json"})
        self.assertEqual(h["content-type"], JSON_CT)
        self.assertEqual(json.loads(b), [
            {"code": 0, "reason": "Succ", "result": {
                "res": "0", "Mobile": "13798361236", "Area": "广东-深圳",
                "Init_Isp": "移动", "Now_Isp": "移动"}},
            {"code": 0, "reason": "Succ", "result": {
                "res": "0", "Mobile": "13352918995", "Area": "广东-深圳",
                "Init_Isp": "电信", "Now_Isp": "电信"}},
            {"code": 0, "reason": "Succ", "result": {
                "res": "0", "Mobile": "13163320753", "Area": "湖北-武汉",
                "Init_Isp": "联通", "Now_Isp": "联通"}}])

    def test_batch_equals_single(self):
        key = self.account()
        nums = ["13972565397", "16512345677", "19212345677", "17112345678"]
        arr = self.batch(key, nums)
        for num, el in zip(nums, arr):
            one = self.get("/carrier", apikey=key, mobile=num)["result"]
            self.assertEqual(el["result"]["Init_Isp"], one["Init_isp"])
            self.assertEqual(el["result"]["Now_Isp"], one["Now_isp"])
            self.assertEqual(el["result"]["res"], one["res"])
            self.assertEqual(el["result"]["Area"], one["Area"])

    def test_per_number_failures(self):
        key = self.account()
        nums = ["13972565391", "1397256539", "1397256539a", "12972565391",
                "13972560000", "", " 13972565391", "13972565391"]
        arr = self.batch(key, nums)
        self.assertEqual(len(arr), len(nums))
        codes = [el["code"] for el in arr]
        self.assertEqual(codes, [0, -2, -3, -3, -4, -2, -2, 0])
        for num, el in zip(nums, arr):
            self.assertEqual(el["result"]["Mobile"], num)
            if el["code"]:
                self.assertEqual(el, {"code": el["code"],
                                      "reason": REASON[el["code"]],
                                      "result": {"Mobile": num}})
        s = self.stats(key)
        self.assertEqual(s["charged"], 2)
        self.assertEqual(s["balance"], 998)
        self.assertEqual(s["numbers_sent"], 8)
        self.assertEqual(s["sent"]["13972565391"], 2)

    def test_get_is_minus7(self):
        key = self.account()
        self.assertError(self.get("/carrier_batch", apikey=key), -7)
        self.assertError(self.get("/carrier_batch"), -7)
        self.assertEqual(self.stats(key)["requests"]["carrier_batch"], 1)

    def test_json_errors_are_minus9(self):
        key = self.account()
        bad = [
            "not json",
            "",
            "[]",
            json.dumps({"apikey": key, "PhoneNumbers": ["13972565391"]}),
            json.dumps({"ApiKey": key, "phonenumbers": ["13972565391"]}),
            json.dumps({"ApiKey": key}),
            json.dumps({"PhoneNumbers": ["13972565391"]}),
            json.dumps({"ApiKey": key, "PhoneNumbers": "13972565391"}),
            json.dumps({"ApiKey": key, "PhoneNumbers": [13972565391]}),
            json.dumps({"ApiKey": 5, "PhoneNumbers": ["13972565391"]}),
            b"\xff\xfe{}",
        ]
        for body in bad:
            with self.subTest(body=body):
                self.assertError(self.post_json("/carrier_batch", body), -9)
        # form-encoded body is not JSON either
        st, h, b = self.raw("POST", "/carrier_batch",
                            "ApiKey=%s&PhoneNumbers=13972565391" % key,
                            {"Content-Type":
                             "application/x-www-form-urlencoded"})
        self.assertError(json.loads(b), -9)
        self.assertEqual(self.balance_of(key), 1000)
        # a -9 batch sends no numbers, but is recorded under its ApiKey
        self.assertError(self.post_json("/carrier_batch", {
            "ApiKey": key, "PhoneNumbers": ["13972565391", 1]}), -9)
        s = self.stats(key)
        self.assertEqual((s["numbers_sent"], s["charged"]), (0, 0))
        self.assertEqual(s["requests"]["carrier_batch"], 5)

    def test_request_level_checks(self):
        key = self.account(balance=5000)
        nums = ["13972565391"]
        self.assertError(self.batch("short", nums), 1)
        self.assertError(self.batch("f" * 32, nums), -1)
        self.assertError(self.batch(DISABLED, nums), -6)
        self.assertError(self.batch(key, []), 1)
        many = ["139%08d" % i for i in range(1001)]
        self.assertError(self.batch(key, many), -10)
        self.assertEqual(self.balance_of(key), 5000)
        arr = self.batch(key, many[:1000])
        self.assertEqual(len(arr), 1000)
        self.assertEqual([el["result"]["Mobile"] for el in arr], many[:1000])
        ok = sum(1 for n in many[:1000] if not n.endswith("0000"))
        self.assertEqual(self.balance_of(key), 5000 - ok)

    def test_fast_render_is_exact_compact_json(self):
        # the batch answer is rendered by hand for speed: it must be, byte
        # for byte, the compact JSON of the same elements
        key = self.account()
        nums = ["13972565397", "16512345677", "19212345678", "13972560000",
                "１３９７２５６５３９１", 'a"\\b\u2028', "123"]
        st, h, b = self.raw("POST", "/carrier_batch", json.dumps(
            {"ApiKey": key, "PhoneNumbers": nums}))
        arr = json.loads(b)
        self.assertEqual([e["code"] for e in arr], [0, 0, 0, -4, -3, -2, -2])
        self.assertEqual(b, json.dumps(arr, ensure_ascii=False,
                                       separators=(",", ":")).encode())

    def test_thousand_numbers_fast(self):
        key = self.account(balance=10 ** 6)
        nums = ["13%09d" % (i * 7919) for i in range(1000)]
        body = json.dumps({"ApiKey": key, "PhoneNumbers": nums})
        c = self.conn()
        self.raw("POST", "/carrier_batch", body, conn=c)  # warm up
        t = time.perf_counter()
        for _ in range(10):
            st, h, b = self.raw("POST", "/carrier_batch", body, conn=c)
            self.assertEqual(st, 200)
        per = (time.perf_counter() - t) / 10
        c.close()
        self.assertEqual(len(json.loads(b)), 1000)
        self.assertLess(per, 0.1, "1000-number batch took %.1f ms"
                        % (per * 1000))


class Balance(Base):
    def test_default_accounts(self):
        a = self.get("/balance", apikey=BIG)
        self.assertEqual(a["code"], 0)
        self.assertEqual(a["result"]["feeType"], "预付费")
        self.assertIsInstance(a["result"]["balance"], str)
        a = self.post_form("/balance", apikey=SMALL)
        self.assertEqual(a, {"code": 0, "reason": "Succ", "result": {
            "feeType": "预付费", "balance": "5"}})
        a = self.get("/balance", apikey=POSTPAID)
        self.assertEqual(a["result"]["feeType"], "后付费")
        self.assertLessEqual(int(a["result"]["balance"]), -2047)
        self.assertError(self.get("/balance", apikey=DISABLED), -6)
        self.assertError(self.get("/balance", apikey="a" * 32), -1)
        self.assertError(self.get("/balance", apikey="a" * 31), 1)
        self.assertError(self.get("/balance"), 1)
        self.assertError(self.get("/balance", ApiKey=BIG), 1)

    def test_balance_headers(self):
        st, h, b = self.raw("POST", "/balance?apikey=" + BIG, b"")
        self.assertEqual((st, h["content-type"]), (200, JSON_CT))
        self.assertEqual(int(h["content-length"]), len(b))


class Charging(Base):
    def test_single_prepaid_runs_out(self):
        key = self.account(balance=2)
        for _ in range(2):
            self.assertEqual(self.get("/carrier", apikey=key,
                                      mobile="13972565391")["code"], 0)
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="13972565391"), -5)
        # number checks come before the balance check
        self.assertError(self.get("/carrier", apikey=key,
                                  mobile="13972560000"), -4)
        self.assertEqual(self.get("/balance", apikey=key)["result"],
                         {"feeType": "预付费", "balance": "0"})
        self.assertEqual(self.stats(key)["charged"], 2)

    def test_small_balance_default_account(self):
        # a batch of 6 valid numbers does not fit into 5
        nums = ["1390000000%d" % i for i in range(1, 7)]
        self.assertError(self.batch(SMALL, nums), -5)
        self.assertEqual(self.get("/balance", apikey=SMALL)["result"]
                         ["balance"], "5")

    def test_batch_all_or_nothing(self):
        key = self.account(balance=3)
        nums = ["13900000001", "13900000002", "13900000003", "13900000004"]
        self.assertError(self.batch(key, nums), -5)
        s = self.stats(key)
        self.assertEqual((s["balance"], s["charged"]), (3, 0))
        # invalid numbers do not need balance
        arr = self.batch(key, nums[:3] + ["13900000000", "123"])
        self.assertEqual([e["code"] for e in arr], [0, 0, 0, -4, -2])
        s = self.stats(key)
        self.assertEqual((s["balance"], s["charged"]), (0, 3))
        # a batch with nothing valid is still answered at zero balance
        arr = self.batch(key, ["13900000000"])
        self.assertEqual(arr[0]["code"], -4)

    def test_postpaid_goes_negative(self):
        key = self.account(balance=1, fee_type="postpaid")
        self.assertEqual(self.get("/carrier", apikey=key,
                                  mobile="13972565391")["code"], 0)
        self.assertEqual(self.get("/carrier", apikey=key,
                                  mobile="13972565391")["code"], 0)
        arr = self.batch(key, ["13900000001", "13900000002"])
        self.assertEqual([e["code"] for e in arr], [0, 0])
        self.assertEqual(self.get("/balance", apikey=key)["result"],
                         {"feeType": "后付费", "balance": "-3"})
        self.assertEqual(self.stats(key)["charged"], 4)

    def test_default_postpaid_account(self):
        before = int(self.get("/balance", apikey=POSTPAID)
                     ["result"]["balance"])
        self.assertEqual(self.get("/carrier", apikey=POSTPAID,
                                  mobile="13972565391")["code"], 0)
        after = int(self.get("/balance", apikey=POSTPAID)
                    ["result"]["balance"])
        self.assertEqual(after, before - 1)

    def test_concurrent_charging_is_exact(self):
        key = self.account(balance=10 ** 6)
        nums = ["1390000%04d" % i for i in range(1, 201)]

        def worker():
            c = self.conn()
            for _ in range(5):
                self.raw("POST", "/carrier_batch",
                         json.dumps({"ApiKey": key, "PhoneNumbers": nums}),
                         conn=c)
            c.close()
        ts = [threading.Thread(target=worker) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        s = self.stats(key)
        self.assertEqual(s["charged"], 8 * 5 * 200)
        self.assertEqual(s["balance"], 10 ** 6 - 8000)
        self.assertEqual(s["requests"]["carrier_batch"], 40)
        self.assertEqual(s["distinct_numbers"], 200)
        self.assertEqual(s["sent"]["13900000001"], 40)


class Latency(Base):
    def tearDown(self):
        self.control("POST", "config", {"latency_single_ms": 0,
                                        "latency_batch_ms": 0})

    def timed(self, fn):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    def test_config_latency(self):
        key = self.account()
        st, cfg = self.control("POST", "config", {"latency_single_ms": 150,
                                                  "latency_batch_ms": 300})
        self.assertEqual(cfg, {"latency_single_ms": 150,
                               "latency_batch_ms": 300})
        self.assertGreaterEqual(self.timed(lambda: self.get(
            "/carrier", apikey=key, mobile="13972565391")), 0.15)
        self.assertGreaterEqual(self.timed(lambda: self.get(
            "/balance", apikey=key)), 0.15)
        dt = self.timed(lambda: self.batch(key, ["13972565391"]))
        self.assertGreaterEqual(dt, 0.3)
        self.assertLess(dt, 0.45)
        dt = self.timed(lambda: self.batch(key, ["139%08d" % i
                                                 for i in range(1, 1001)]))
        self.assertLess(dt, 0.6)  # fixed per request, not per number
        # control API answers are never delayed
        self.assertLess(self.timed(lambda: self.stats(key)), 0.1)
        self.assertEqual(self.control("POST", "config", {
            "latency_single_ms": -1})[0], 400)

    def test_fault_latency_override(self):
        key = self.account()
        self.control("POST", "config", {"latency_single_ms": 1000})
        dt = self.timed(lambda: self.get("/_fault/latency=50/carrier",
                                         apikey=key, mobile="13972565391"))
        self.assertGreaterEqual(dt, 0.05)
        self.assertLess(dt, 0.5)

    def test_cli_latency_flags(self):
        proc, port, pf, tmp = start_emulator("--latency-single-ms", "120",
                                             "--latency-batch-ms", "200")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            t = time.perf_counter()
            c.request("GET", "/balance?apikey=" + BIG)
            c.getresponse().read()
            self.assertGreaterEqual(time.perf_counter() - t, 0.12)
            t = time.perf_counter()
            c.request("POST", "/carrier_batch", json.dumps(
                {"ApiKey": BIG, "PhoneNumbers": ["13972565391"]}))
            c.getresponse().read()
            self.assertGreaterEqual(time.perf_counter() - t, 0.2)
            c.request("GET", "/_emu/config")
            self.assertEqual(json.loads(c.getresponse().read()),
                             {"latency_single_ms": 120,
                              "latency_batch_ms": 200})
            c.close()
        finally:
            stop_emulator(proc, tmp)


class FaultsReplace(Base):
    def test_minus8_always_and_once(self):
        key = self.account()
        for _ in range(2):
            self.assertError(self.get("/_fault/minus8/carrier", apikey=key,
                                      mobile="13972565391"), -8)
        self.assertError(self.batch(key, ["13972565391"],
                                    "/_fault/minus8"), -8)
        self.assertEqual(self.stats(key)["charged"], 0)
        p = "/_fault/minus8*1"
        self.assertError(self.get(p + "/carrier", apikey=key,
                                  mobile="13972565391"), -8)
        self.assertEqual(self.get(p + "/carrier", apikey=key,
                                  mobile="13972565391")["code"], 0)
        # counted per (spec, apikey): another key gets its own -8
        other = self.account()
        self.assertError(self.get(p + "/balance", apikey=other), -8)
        self.assertEqual(self.get(p + "/balance", apikey=other)["code"], 0)
        # *N counts requests over all endpoints of that spec
        p = "/_fault/minus8*2"
        self.assertError(self.get(p + "/balance", apikey=key), -8)
        self.assertError(self.batch(key, ["13972565391"], p), -8)
        self.assertEqual(self.batch(key, ["13972565391"], p)[0]["code"], 0)
        s = self.stats(key)
        self.assertEqual(s["charged"], 2)
        self.assertEqual(s["requests"], {"carrier": 4, "carrier_batch": 3,
                                         "balance": 1})

    def test_code_and_reason(self):
        key = self.account()
        a = self.get("/_fault/code=-9,reason=%s/balance"
                     % urllib.parse.quote("ip地址鉴权失败"), apikey=key)
        self.assertEqual(a, {"code": -9, "reason": "ip地址鉴权失败"})
        self.assertError(self.get("/_fault/code=-5/carrier", apikey=key,
                                  mobile="13972565391"), -5)
        self.assertEqual(self.get("/_fault/code=-99/balance", apikey=key),
                         {"code": -99, "reason": "未知错误"})
        a = self.get("/_fault/minus8,reason=a%2Cb/balance", apikey=key)
        self.assertEqual(a, {"code": -8, "reason": "a,b"})
        self.assertEqual(self.stats(key)["charged"], 0)

    def test_http_status_faults(self):
        key = self.account()
        for name, status, retry in (("http500", 500, None),
                                    ("http502", 502, None),
                                    ("http503", 503, "1"),
                                    ("http429", 429, "1"),
                                    ("http400", 400, None),
                                    ("http403", 403, None),
                                    ("http404", 404, None)):
            with self.subTest(name=name):
                st, h, b = self.raw("GET", "/_fault/%s/carrier?apikey=%s"
                                    "&mobile=13972565391" % (name, key))
                self.assertEqual(st, status)
                self.assertTrue(h["content-type"].startswith("text/html"))
                self.assertEqual(int(h["content-length"]), len(b))
                self.assertIn(b"<html>", b)
                self.assertEqual(h.get("retry-after"), retry)
        self.assertEqual(self.stats(key)["charged"], 0)
        self.assertEqual(self.stats(key)["requests"]["carrier"], 7)

    def test_html_empty_notjson_wrongshape(self):
        key = self.account()
        q = "?apikey=%s&mobile=13972565391" % key
        st, h, b = self.raw("GET", "/_fault/html/carrier" + q)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertTrue(b.startswith(b"<html>"))
        st, h, b = self.raw("GET", "/_fault/empty/carrier" + q)
        self.assertEqual((st, h["content-length"], b), (200, "0", b""))
        st, h, b = self.raw("GET", "/_fault/notjson/carrier" + q)
        self.assertEqual(b, b"this is not json")
        self.assertRaises(ValueError, json.loads, b)
        st, h, b = self.raw("POST", "/_fault/wrongshape/carrier_batch",
                            json.dumps({"ApiKey": key,
                                        "PhoneNumbers": ["13972565391"]}))
        self.assertEqual(json.loads(b), {"foo": 1})
        self.assertEqual(self.stats(key)["charged"], 0)

    def test_close(self):
        key = self.account()
        c = self.conn()
        c.request("GET", "/_fault/close/carrier?apikey=%s&mobile=13972565391"
                  % key)
        with self.assertRaises(http.client.RemoteDisconnected):
            c.getresponse()
        c.close()
        self.assertEqual(self.stats(key)["requests"]["carrier"], 1)
        self.assertEqual(self.stats(key)["charged"], 0)

    def test_hang_until_client_leaves(self):
        key = self.account()
        c = self.conn(timeout=0.5)
        t = time.perf_counter()
        c.request("GET", "/_fault/hang/balance?apikey=" + key)
        with self.assertRaises(socket.timeout):
            c.getresponse()
        self.assertGreaterEqual(time.perf_counter() - t, 0.5)
        self.assertEqual(self.stats(key)["max_in_flight"], 1)
        c.close()
        time.sleep(0.3)  # the emulator notices the disconnect within 0.1 s
        self.assertEqual(self.get("/balance", apikey=key)["code"], 0)
        self.assertEqual(self.stats(key)["max_in_flight"], 1)
        st, log = self.control("GET", "requests", apikey=key)
        self.assertEqual(log[0]["status"], "hang")


class FaultsTransport(Base):
    def raw_exchange(self, path, timeout=5):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return head.decode("latin-1"), body

    def test_truncated(self):
        key = self.account()
        head, body = self.raw_exchange(
            "/_fault/truncated/carrier?apikey=%s&mobile=13972565391" % key)
        cl = int([l for l in head.split("\r\n")
                  if l.lower().startswith("content-length:")][0].split(":")[1])
        self.assertGreater(cl, len(body))
        self.assertEqual(len(body), cl // 2)
        c = self.conn()
        c.request("GET", "/_fault/truncated/balance?apikey=" + key)
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()
        # the lookup itself happened (see README): charged
        self.assertEqual(self.stats(key)["charged"], 1)

    def test_closemid(self):
        key = self.account()
        head, body = self.raw_exchange(
            "/_fault/closemid/carrier?apikey=%s&mobile=13972565391" % key)
        self.assertIn("Transfer-Encoding: chunked", head)
        self.assertNotIn("Content-Length", head)
        self.assertFalse(body.endswith(b"0\r\n\r\n"))
        c = self.conn()
        c.request("GET", "/_fault/closemid/balance?apikey=" + key)
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()

    def test_drip(self):
        key = self.account()
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.sendall(("GET /_fault/drip/balance?apikey=%s HTTP/1.1\r\n"
                   "Host: x\r\n\r\n" % key).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length:", head)
        t = time.perf_counter()
        while len(body) < 3:
            body += s.recv(4096)
        dt = time.perf_counter() - t
        self.assertGreaterEqual(dt, 0.35)  # >= 200 ms a byte
        self.assertTrue(b'{"c'.startswith(body[:3]))
        s.close()

    def test_huge(self):
        key = self.account()
        st, h, b = self.raw("GET", "/_fault/huge/carrier?apikey=%s"
                            "&mobile=13972565391" % key)
        self.assertEqual(st, 200)
        self.assertEqual(int(h["content-length"]), 20 * 1024 * 1024)
        self.assertEqual(len(b), 20 * 1024 * 1024)
        a = json.loads(b)
        self.assertEqual(a["code"], 0)
        self.assertEqual(a["result"]["Mobile"], "13972565391")
        self.assertTrue(a["reason"].startswith("Succ"))
        arr = self.batch(key, ["13972565391", "13972565397"],
                         "/_fault/huge")
        self.assertEqual([e["result"]["Mobile"] for e in arr],
                         ["13972565391", "13972565397"])

    def test_textjson(self):
        key = self.account()
        st, h, b = self.raw("GET", "/_fault/textjson/carrier?apikey=%s"
                            "&mobile=13972565391" % key)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertEqual(json.loads(b)["code"], 0)


class FaultsShape(Base):
    NUMS = ["13972565391", "13972565397", "13972560000"]

    def arr(self, fault, key):
        return self.batch(key, self.NUMS, "/_fault/" + fault)

    def test_batch_shapes(self):
        key = self.account()
        few = self.arr("batchfew", key)
        self.assertEqual([e["result"]["Mobile"] for e in few], self.NUMS[:2])
        many = self.arr("batchmany", key)
        self.assertEqual(len(many), 4)
        self.assertNotIn(many[3]["result"]["Mobile"], self.NUMS)
        unreq = self.arr("batchunrequested", key)
        self.assertEqual(len(unreq), 3)
        self.assertNotIn(unreq[0]["result"]["Mobile"], self.NUMS)
        rev = self.arr("batchreorder", key)
        self.assertEqual([e["result"]["Mobile"] for e in rev],
                         self.NUMS[::-1])
        self.assertEqual(rev[1]["result"]["Now_Isp"], "电信")
        nom = self.arr("batchnomobile", key)
        self.assertTrue(all("Mobile" not in e["result"] for e in nom))
        self.assertEqual(nom[1]["result"]["Now_Isp"], "电信")
        # the shape faults deform a real answer: it was charged
        self.assertEqual(self.stats(key)["charged"], 10)

    def test_trailingcomma(self):
        key = self.account()
        st, h, b = self.raw("GET", "/_fault/trailingcomma/balance?apikey="
                            + key)
        t = b.decode()
        self.assertIn('"balance":"1000",}', t)
        self.assertTrue(t.endswith(",}"))
        self.assertRaises(ValueError, json.loads, t)
        self.assertEqual(json.loads(t.replace(",}", "}"))["result"]
                         ["balance"], "1000")

    def test_doublebrace(self):
        key = self.account()
        st, h, b = self.raw("GET", "/_fault/doublebrace/carrier?apikey=%s"
                            "&mobile=13972565391" % key)
        t = b.decode()
        self.assertIn('"result":{{"res":"0"', t)
        self.assertTrue(t.endswith("}}}"))
        self.assertRaises(ValueError, json.loads, t)

    def test_resnumber_codestring_balancenumber(self):
        key = self.account()
        a = self.get("/_fault/resnumber,codestring/carrier", apikey=key,
                     mobile="13972565397")
        self.assertEqual(a["code"], "0")
        self.assertEqual(a["result"]["res"], 1)
        arr = self.arr("resnumber", key)
        self.assertEqual([e["result"].get("res") for e in arr], [0, 1, None])
        a = self.get("/_fault/balancenumber/balance", apikey=key)
        self.assertIsInstance(a["result"]["balance"], int)
        a = self.get("/_fault/codestring/carrier", apikey=key, mobile="1")
        self.assertEqual(a["code"], "-2")

    def test_keycase(self):
        key = self.account()
        a = self.get("/_fault/keycase/carrier", apikey=key,
                     mobile="13972565397")
        self.assertEqual(list(a["result"]), ["res", "Mobile", "Area",
                                             "Init_Isp", "Now_Isp"])
        arr = self.arr("keycase", key)
        self.assertEqual(list(arr[0]["result"]), ["res", "Mobile", "Area",
                                                  "Init_isp", "Now_isp"])

    def test_area(self):
        key = self.account()
        a = self.get("/_fault/area=%E8%87%BA%E5%8C%97%2C%F0%9F%98%80/carrier",
                     apikey=key, mobile="13972565397")
        self.assertEqual(a["result"]["Area"], "臺北,😀")
        self.assertEqual(a["result"]["Now_isp"], "电信")
        arr = self.arr("area=x", key)
        self.assertEqual([e["result"].get("Area") for e in arr],
                         ["x", "x", None])
        # a real answer, deformed: charged
        self.assertEqual(self.stats(key)["charged"], 3)
        st, h, b = self.raw("GET", "/_fault/area/balance?apikey=" + key)
        self.assertEqual(st, 400)

    def test_combination_and_bad_spec(self):
        key = self.account()
        st, h, b = self.raw("GET", "/_fault/textjson,trailingcomma,"
                            "latency=10/balance?apikey=" + key)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertTrue(b.endswith(b",}"))
        st, h, b = self.raw("GET", "/_fault/bogus/balance?apikey=" + key)
        self.assertEqual(st, 400)
        st, h, b = self.raw("GET", "/_fault/code=x/balance?apikey=" + key)
        self.assertEqual(st, 400)


class Control(Base):
    def test_health_and_404(self):
        st, h, b = self.raw("GET", "/_emu/health")
        self.assertEqual((st, b), (200, b"ok"))
        st, h, b = self.raw("GET", "/nope")
        self.assertEqual(st, 404)
        self.assertEqual(int(h["content-length"]), len(b))

    def test_connections_count_keep_alive_reuse(self):
        key = self.account(balance=100)
        c = self.conn()
        for _ in range(3):
            st, _, b = self.raw("POST", "/carrier",
                                urllib.parse.urlencode({"apikey": key, "mobile": "13972565391"}),
                                {"Content-Type": "application/x-www-form-urlencoded"}, conn=c)
            self.assertEqual(json.loads(b)["code"], 0)
        c.close()
        self.get("/balance", apikey=key)
        s = self.stats(key)
        self.assertEqual(sum(s["requests"].values()), 4)
        self.assertEqual(s["connections"], 2)

    def test_stats_shape(self):
        key = self.account(balance=100)
        self.get("/carrier", apikey=key, mobile="13972565391")
        self.post_form("/carrier", apikey=key, mobile="13972565391")
        self.batch(key, ["13972565391", "13972560000", "1"])
        self.get("/balance", apikey=key)
        self.assertEqual(self.stats(key), {
            "requests": {"carrier": 2, "carrier_batch": 1, "balance": 1},
            "numbers_sent": 5, "distinct_numbers": 3,
            "sent": {"13972565391": 3, "13972560000": 1, "1": 1},
            "charged": 3,
            "charged_by_endpoint": {"carrier": 2, "carrier_batch": 1},
            "charged_distinct": 1, "charged_numbers": {"13972565391": 3},
            "balance": 97, "in_flight": 0, "max_in_flight": 1,
            "refused_429": 0, "refused_window": 0,
            "key_in_url": 2, "connections": 4, "lean": False})
        unknown = self.stats("q" * 32)
        self.assertEqual(unknown["requests"], {"carrier": 0,
                                               "carrier_batch": 0,
                                               "balance": 0})
        self.assertIsNone(unknown["balance"])

    def test_missing_key_recorded_under_empty(self):
        before = self.stats("")["requests"]["balance"]
        self.get("/balance")
        self.assertEqual(self.stats("")["requests"]["balance"], before + 1)

    def test_requests_log(self):
        key = self.account()
        self.get("/carrier", apikey=key, mobile="13972565391")
        self.post_form("/carrier", apikey=key, mobile="13972565391")
        self.batch(key, ["13972565391", "13972565392"], "/_fault/minus8")
        st, log = self.control("GET", "requests", apikey=key)
        self.assertEqual(len(log), 3)
        self.assertEqual(log[0]["query"], "apikey=***&mobile=13972565391")
        self.assertNotIn(key, json.dumps(log))
        self.assertEqual([e["key_in_url"] for e in log], [True, False, False])
        self.assertEqual([e["method"] for e in log], ["GET", "POST", "POST"])
        self.assertEqual([e["numbers"] for e in log], [1, 1, 2])
        self.assertEqual([e["code"] for e in log], [0, 0, -8])
        self.assertEqual(log[2]["fault"], "minus8")
        self.assertEqual(log[2]["endpoint"], "carrier_batch")
        self.assertIn("t", log[0])

    def test_max_in_flight(self):
        key = self.account()

        def one():
            self.get("/_fault/latency=300/balance", apikey=key)
        ts = [threading.Thread(target=one) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(self.stats(key)["max_in_flight"], 4)

    def test_reset_key(self):
        key = self.account(balance=10)
        self.get("/carrier", apikey=key, mobile="13972565391")
        self.assertError(self.get("/_fault/minus8*1/balance", apikey=key), -8)
        self.assertEqual(self.get("/_fault/minus8*1/balance",
                                  apikey=key)["code"], 0)
        st, r = self.control("POST", "reset", {"apikey": key})
        self.assertEqual(st, 200)
        s = self.stats(key)
        self.assertEqual((s["numbers_sent"], s["charged"], s["balance"]),
                         (0, 0, 9))  # balance is kept
        self.assertEqual(self.control("GET", "requests", apikey=key)[1], [])
        # fault counters restart
        self.assertError(self.get("/_fault/minus8*1/balance", apikey=key), -8)

    def test_accounts_api(self):
        key = self.account(balance=1)
        st, a = self.control("POST", "accounts", {"apikey": key,
                                                  "disabled": True})
        self.assertEqual(a, {"apikey": key, "balance": 1,
                             "fee_type": "prepaid", "disabled": True})
        self.assertError(self.get("/balance", apikey=key), -6)
        st, a = self.control("POST", "accounts", {
            "apikey": key, "disabled": False, "fee_type": "postpaid",
            "balance": -5})
        self.assertEqual(self.get("/balance", apikey=key)["result"],
                         {"feeType": "后付费", "balance": "-5"})
        for bad in ({"apikey": "short", "balance": 1},
                    {"apikey": key, "balance": "1"},
                    {"apikey": key, "fee_type": "credit"},
                    {"apikey": key, "disabled": "no"}):
            self.assertEqual(self.control("POST", "accounts", bad)[0], 400)
        st, a = self.control("GET", "accounts", apikey=key)
        self.assertEqual(a["balance"], -5)


class Transport(Base):
    def test_keep_alive_many_requests_one_connection(self):
        key = self.account()
        c = self.conn()
        for i in range(20):
            st, h, b = self.raw("GET", "/carrier?apikey=%s&mobile=1397256539%d"
                                % (key, i % 10), conn=c)
            self.assertEqual(st, 200)
        self.raw("GET", "/carrier_batch", conn=c)              # -7
        self.raw("POST", "/carrier_batch", "xx", conn=c)       # -9
        self.raw("GET", "/_fault/http503/balance", conn=c)     # 503
        st, h, b = self.raw("POST", "/balance", "apikey=" + key,
                            {"Content-Type":
                             "application/x-www-form-urlencoded"}, conn=c)
        self.assertEqual(json.loads(b)["code"], 0)
        c.close()

    def test_expect_100_continue_and_chunked_body(self):
        key = self.account()
        body = json.dumps({"ApiKey": key, "PhoneNumbers": ["13972565391"]})
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.sendall(("POST /carrier_batch HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: application/json\r\n"
                   "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                   % len(body)).encode())
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100"))
        s.sendall(body.encode())
        data = b""
        while not data.endswith(b"}]"):
            data += s.recv(4096)
        self.assertIn(b'"Init_Isp":"', data)
        # chunked request body on the same connection
        s.sendall(b"POST /carrier_batch HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" +
                  b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body.encode()))
        data = b""
        while not data.endswith(b"}]"):
            data += s.recv(4096)
        self.assertIn(b"HTTP/1.1 200", data)
        s.close()

    def test_tls(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        tmp = tempfile.mkdtemp()
        cert, keyf = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", keyf, "-out", cert, "-days", "1",
                        "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        proc, port, pf, tmpdir = start_emulator("--tls-cert", cert,
                                                "--tls-key", keyf)
        try:
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5,
                                            context=ctx)
            for _ in range(2):  # keep-alive over TLS
                c.request("GET", "/carrier?apikey=%s&mobile=13972565397"
                          % BIG)
                a = json.loads(c.getresponse().read())
                self.assertEqual(a["result"]["Now_isp"], "电信")
            c.close()
            # a plain-HTTP client does not get an answer
            p = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            with self.assertRaises((http.client.HTTPException, OSError)):
                p.request("GET", "/_emu/health")
                p.getresponse().read()
            p.close()
            # hang over TLS ends when the client leaves
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=0.3,
                                            context=ctx)
            c.request("GET", "/_fault/hang/balance?apikey=" + BIG)
            with self.assertRaises(socket.timeout):
                c.getresponse()
            c.close()
        finally:
            stop_emulator(proc, tmpdir)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_sigterm_stops_cleanly(self):
        proc, port, pf, tmpdir = start_emulator()
        # a hanging request must not block shutdown
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/_fault/hang/balance?apikey=" + BIG)
        time.sleep(0.1)
        t = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(5), 0)
        self.assertLess(time.perf_counter() - t, 3)
        self.assertFalse(os.path.exists(pf))
        c.close()
        stop_emulator(proc, tmpdir)

    def test_loopback_only(self):
        r = subprocess.run([sys.executable, EMULATOR, "--host", "0.0.0.0"],
                           capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)


class Emuctl(Base):
    def emuctl(self, *args, ok=True):
        env = dict(os.environ, QXT_EMU_URL="http://127.0.0.1:%d" % PORT)
        r = subprocess.run([EMUCTL] + list(args), capture_output=True,
                           env=env, timeout=20)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode()

    def test_emuctl(self):
        key = "emuctl" + "0" * 26
        self.assertEqual(self.emuctl("account", key, "--balance", "10",
                                     "--fee-type", "prepaid"),
                         '{"apikey":"%s","balance":10,"disabled":false,'
                         '"fee_type":"prepaid"}\n' % key)
        self.assertEqual(self.emuctl("reset", key), "reset %s\n" % key)
        self.get("/carrier", apikey=key, mobile="13972565391")
        self.batch(key, ["13972565391", "13972560000"])
        self.get("/balance", apikey=key)
        self.assertEqual(self.emuctl("count", key, "13972565391"), "2\n")
        self.assertEqual(self.emuctl("count", key, "13900000000"), "0\n")
        self.assertEqual(self.emuctl("sent", key),
                         "carrier=1 carrier_batch=1 balance=1 numbers=3 "
                         "distinct=2 charged=2\n")
        self.assertEqual(
            self.emuctl("stats", key),
            '{"balance":8,"charged":2,"charged_by_endpoint":{"carrier":1,'
            '"carrier_batch":1},"charged_distinct":1,"charged_numbers":'
            '{"13972565391":2},"connections":3,"distinct_numbers":2,'
            '"in_flight":0,"key_in_url":2,"lean":false,"max_in_flight":1,'
            '"numbers_sent":3,"refused_429":0,"refused_window":0,'
            '"requests":{"balance":1,"carrier":1,"carrier_batch":1},'
            '"sent":{"13972560000":1,"13972565391":2}}\n')
        lines = self.emuctl("requests", key).splitlines()
        self.assertEqual(lines[0],
                         '{"charged":1,"code":0,"endpoint":"carrier",'
                         '"fault":"","key_in_url":true,"method":"GET","n":1,'
                         '"numbers":1,"path":"/carrier","query":"apikey=***&'
                         'mobile=13972565391","refused":null,"status":200}')
        self.assertEqual(len(lines), 3)
        self.assertEqual(self.emuctl("account", key, "--disabled"),
                         '{"apikey":"%s","balance":8,"disabled":true,'
                         '"fee_type":"prepaid"}\n' % key)
        self.assertError(self.get("/balance", apikey=key), -6)
        self.assertEqual(self.emuctl("config", "--latency-single-ms", "0",
                                     "--latency-batch-ms", "0"),
                         '{"latency_batch_ms":0,"latency_single_ms":0}\n')
        self.assertEqual(self.emuctl("health"), "ok\n")
        env = dict(os.environ)
        env.pop("QXT_EMU_URL", None)
        r = subprocess.run([EMUCTL, "sent", key], capture_output=True,
                           env=env, timeout=10)
        self.assertNotEqual(r.returncode, 0)


# ---------------------------------------------------------------------------
# Models, charge counters, throttling, per-endpoint fault counts, lean mode

OK1, OK2, OK3 = "13972565391", "13972565397", "13352918995"
BAD4, BAD2, BAD3 = "13972560000", "1397256539", "12972565391"


class ModelApi(Base):
    DEFAULT = {"account_codes": "envelope", "failed_charged": False,
               "drop_charges": "started", "inflight_limit": None,
               "refuse": None}

    def test_defaults_set_read_back_and_reset(self):
        key = self.account()
        st, m = self.control("GET", "model", apikey=key)
        self.assertEqual(m, dict(self.DEFAULT, apikey=key))
        m = self.model(key, account_codes="elements", failed_charged=True,
                       drop_charges="yes", inflight_limit=3)
        want = dict(apikey=key, account_codes="elements",
                    failed_charged=True, drop_charges="yes",
                    inflight_limit=3, refuse=None)
        self.assertEqual(m, want)
        self.assertEqual(self.control("GET", "model", apikey=key)[1], want)
        # omitted fields stay; "defaults" starts over
        self.assertEqual(self.model(key, drop_charges="no")["account_codes"],
                         "elements")
        self.assertEqual(self.model(key, defaults=True, failed_charged=True),
                         dict(self.DEFAULT, apikey=key, failed_charged=True))
        # reset KEY puts the model back to the defaults
        self.model(key, account_codes="elements")
        self.control("POST", "reset", {"apikey": key})
        self.assertEqual(self.control("GET", "model", apikey=key)[1],
                         dict(self.DEFAULT, apikey=key))

    def test_typos_and_bad_values_are_refused(self):
        # a misspelt field must not leave a test running under the default
        key = self.account()
        for bad in ({"failed_charge": True},
                    {"account_codes": "element"},
                    {"failed_charged": "yes"},
                    {"drop_charges": True},
                    {"inflight_limit": 0},
                    {"inflight_limit": "2"},
                    {"inflight_limit": True},
                    {"refuse": "503", "refuse_ms": 100},
                    {"refuse": "429"},
                    {"refuse": "429", "refuse_ms": 0},
                    {"refuse_ms": 100},
                    {"defaults": "yes"}):
            with self.subTest(bad=bad):
                st, r = self.control("POST", "model", dict(bad, apikey=key))
                self.assertEqual(st, 400, r)
        self.assertEqual(self.control("POST", "model",
                                      {"apikey": "short"})[0], 400)
        self.assertEqual(self.control("GET", "model", apikey="short")[0],
                         400)
        self.assertEqual(self.control("GET", "model", apikey=key)[1],
                         dict(self.DEFAULT, apikey=key))

    def test_model_does_not_leak_into_another_key(self):
        a, b = self.account(balance=1), self.account(balance=1)
        self.model(a, account_codes="elements", failed_charged=True,
                   inflight_limit=1)
        nums = [OK1, OK2, BAD4]
        self.assertError(self.batch(b, nums), -5)           # envelope
        self.assertError(self.get("/carrier", apikey=b, mobile=BAD4), -4)
        self.assertEqual(self.stats(b)["charged"], 0)
        self.assertEqual([e["code"] for e in self.batch(a, nums)],
                         [0, -5, -5])
        self.assertEqual(self.control("GET", "model", apikey=b)[1],
                         dict(self.DEFAULT, apikey=b))
        # resetting b leaves a's model alone
        self.control("POST", "reset", {"apikey": b})
        self.assertTrue(self.control("GET", "model", apikey=a)[1]
                        ["failed_charged"])


class AccountCodes(Base):
    """-5/-6/-1 as one envelope (default) or per element."""

    def test_envelope_is_the_default_and_charges_nothing(self):
        for explicit in (False, True):
            with self.subTest(explicit=explicit):
                key = self.account(balance=2)
                if explicit:
                    self.model(key, account_codes="envelope")
                self.assertError(self.batch(key, [OK1, BAD4, OK2, OK3]), -5)
                s = self.assertMoney(key, 2)
                self.assertEqual(s["charged"], 0)
                dis = self.account(disabled=True)
                self.assertError(self.batch(dis, [OK1]), -6)
                self.assertError(self.batch("e" * 32, [OK1]), -1)

    def test_elements_partial_charge(self):
        key = self.account(balance=2)
        self.model(key, account_codes="elements")
        nums = [OK1, BAD4, OK2, BAD2, OK3, OK1]
        arr = self.batch(key, nums)
        self.assertEqual([e["result"]["Mobile"] for e in arr], nums)
        self.assertEqual([e["code"] for e in arr], [0, -4, 0, -2, -5, -5])
        self.assertEqual(arr[0]["result"]["Now_Isp"], "移动")
        self.assertEqual(arr[2]["result"]["Now_Isp"], "电信")
        self.assertEqual(arr[4], {"code": -5, "reason": REASON[-5],
                                  "result": {"Mobile": OK3}})
        s = self.assertMoney(key, 2)
        self.assertEqual(s["charged_numbers"], {OK1: 1, OK2: 1})
        self.assertEqual(s["charged_by_endpoint"],
                         {"carrier": 0, "carrier_batch": 2})
        # at balance 0 every chargeable number answers -5, failures do not
        arr = self.batch(key, [OK3, BAD3])
        self.assertEqual([e["code"] for e in arr], [-5, -3])
        # enough balance: the normal answer, all charged
        self.control("POST", "accounts", {"apikey": key, "balance": 3})
        arr = self.batch(key, [OK1, OK2, BAD4, OK3])
        self.assertEqual([e["code"] for e in arr], [0, 0, -4, 0])
        s = self.assertMoney(key, 3, earlier=2)
        self.assertEqual(s["charged_numbers"], {OK1: 2, OK2: 2, OK3: 1})
        # a negative prepaid balance covers nothing
        self.control("POST", "accounts", {"apikey": key, "balance": -4})
        self.assertEqual([e["code"] for e in self.batch(key, [OK1])], [-5])
        self.assertEqual(self.balance_of(key), -4)

    def test_elements_with_failed_charged(self):
        # failures are chargeable too: they use up the balance in order
        key = self.account(balance=3)
        self.model(key, account_codes="elements", failed_charged=True)
        arr = self.batch(key, [OK1, BAD4, BAD2, OK2, BAD3])
        self.assertEqual([e["code"] for e in arr], [0, -4, -2, -5, -5])
        s = self.assertMoney(key, 3)
        self.assertEqual(s["charged_numbers"], {OK1: 1, BAD4: 1, BAD2: 1})

    def test_elements_disabled_and_unknown_key(self):
        dis = self.account(balance=10, disabled=True)
        unknown = "elementsunknownkey00000000000001"
        for key, code in ((dis, -6), (unknown, -1)):
            with self.subTest(code=code):
                self.model(key, account_codes="elements",
                           failed_charged=True)
                nums = [OK1, BAD4, BAD2]
                arr = self.batch(key, nums)
                self.assertEqual(arr, [{"code": code, "reason": REASON[code],
                                        "result": {"Mobile": m}}
                                       for m in nums])
                s = self.stats(key)
                self.assertEqual((s["charged"], s["charged_numbers"]),
                                 (0, {}))
                # single lookups and /balance keep the envelope
                self.assertError(self.get("/carrier", apikey=key,
                                          mobile=OK1), code)
                self.assertError(self.get("/balance", apikey=key), code)
                # request-shape errors stay envelopes, and come first
                self.assertError(self.batch(key, []), 1)
                self.assertError(self.batch(key, [OK1] * 1001), -10)
        self.assertEqual(self.balance_of(dis), 10)

    def test_elements_keeps_request_level_envelopes(self):
        key = self.account(balance=1)
        self.model(key, account_codes="elements")
        self.assertError(self.get("/carrier_batch", apikey=key), -7)
        self.assertError(self.post_json("/carrier_batch", "nope"), -9)
        self.assertError(self.batch(key, []), 1)
        self.assertError(self.batch(key, [OK1] * 1001), -10)
        # a single lookup over the balance is the envelope -5
        self.assertEqual(self.get("/carrier", apikey=key,
                                  mobile=OK1)["code"], 0)
        self.assertError(self.get("/carrier", apikey=key, mobile=OK2), -5)
        self.assertMoney(key, 1)

    def test_elements_postpaid_never_minus5(self):
        key = self.account(balance=1, fee_type="postpaid")
        self.model(key, account_codes="elements")
        arr = self.batch(key, [OK1, OK2, OK3])
        self.assertEqual([e["code"] for e in arr], [0, 0, 0])
        self.assertEqual(self.assertMoney(key, 1)["balance"], -2)

    def test_elements_answer_renders_like_the_tree(self):
        # the fast renderer and the generic one agree byte for byte,
        # per-element -5 included (the transform path uses the generic one)
        key = self.account(balance=1)
        self.model(key, account_codes="elements")
        nums = [OK1, OK2, BAD4, "１３９７２５６５３９１", 'a"\\b']
        st, h, fast = self.raw("POST", "/carrier_batch", json.dumps(
            {"ApiKey": key, "PhoneNumbers": nums}))
        tree = [{"code": 0, "reason": "Succ", "result": {
                    "res": "0", "Mobile": OK1, "Area": "湖北-宜昌",
                    "Init_Isp": "移动", "Now_Isp": "移动"}}]
        tree += [{"code": c, "reason": REASON[c], "result": {"Mobile": m}}
                 for c, m in zip((-5, -4, -3, -2), nums[1:])]
        self.assertEqual(fast, json.dumps(tree, ensure_ascii=False,
                                          separators=(",", ":")).encode())
        # and the generic path (taken when a transform is active) agrees
        self.control("POST", "accounts", {"apikey": key, "balance": 1})
        st, h, slow = self.raw("POST", "/_fault/batchreorder/carrier_batch",
                               json.dumps({"ApiKey": key,
                                           "PhoneNumbers": nums}))
        self.assertEqual(slow, json.dumps(tree[::-1], ensure_ascii=False,
                                          separators=(",", ":")).encode())


class FailedCharged(Base):
    """Per-number -2/-3/-4: free (default) or charged."""

    def test_single(self):
        for model in (None, False, True):
            with self.subTest(failed_charged=model):
                key = self.account(balance=4)
                if model is not None:
                    self.model(key, failed_charged=model)
                for num, code in ((BAD2, -2), (BAD3, -3), (BAD4, -4),
                                  (OK1, 0)):
                    self.assertEqual(self.get("/carrier", apikey=key,
                                              mobile=num)["code"], code)
                self.assertError(self.get("/carrier", apikey=key), 1)
                s = self.assertMoney(key, 4)
                if model:
                    self.assertEqual(s["charged_numbers"],
                                     {BAD2: 1, BAD3: 1, BAD4: 1, OK1: 1})
                    # the balance is gone: a failure can no longer be paid
                    self.assertError(self.get("/carrier", apikey=key,
                                              mobile=BAD4), -5)
                else:
                    self.assertEqual(s["charged_numbers"], {OK1: 1})
                    self.assertError(self.get("/carrier", apikey=key,
                                              mobile=BAD4), -4)

    def test_batch(self):
        nums = [OK1, BAD2, BAD3, BAD4, OK2]
        for model in (None, False, True):
            with self.subTest(failed_charged=model):
                key = self.account(balance=5)
                if model is not None:
                    self.model(key, failed_charged=model)
                arr = self.batch(key, nums)
                self.assertEqual([e["code"] for e in arr], [0, -2, -3, -4, 0])
                s = self.assertMoney(key, 5)
                self.assertEqual(s["charged"], 5 if model else 2)
                # envelope: the whole batch must fit, failures included
                self.control("POST", "accounts", {"apikey": key,
                                                  "balance": 2})
                arr = self.batch(key, nums)
                if model:
                    self.assertError(arr, -5)
                else:
                    self.assertEqual(len(arr), 5)


class DropCharges(Base):
    """Answers lost after processing: charged or not, per fault and model."""

    NUMS = [OK1, OK2, BAD4]  # two chargeable numbers
    # fault -> charged? under drop_charges started (default), yes, no
    TABLE = {"close": (0, 1, 0), "empty": (0, 1, 0), "hang": (0, 1, 0),
             "truncated": (1, 1, 0), "closemid": (1, 1, 0),
             "drip": (1, 1, 0), "chargedrop": (1, 1, 1),
             "minus8": (0, 0, 0), "http503": (0, 0, 0), "html": (0, 0, 0),
             "batchfew": (1, 1, 1)}

    def fire(self, key, fault, endpoint):
        """One request on its own connection, read as the fault allows."""
        if endpoint == "carrier":
            head = ("GET /_fault/%s/carrier?apikey=%s&mobile=%s HTTP/1.1\r\n"
                    "Host: x\r\nConnection: close\r\n\r\n" % (fault, key, OK2))
            body = b""
        else:
            body = json.dumps({"ApiKey": key,
                               "PhoneNumbers": self.NUMS}).encode()
            head = ("POST /_fault/%s/carrier_batch HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\nContent-Length: %d\r\n\r\n"
                    % (fault, len(body)))
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.sendall(head.encode() + body)
        data = b""
        try:
            if fault == "hang":
                self.wait_for(lambda: [e["status"] for e in self.log(key)]
                              == ["hang"],
                              what="the hang to start")
            else:
                while not (fault == "drip" and b"\r\n\r\n" in data):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        finally:
            s.close()
        return data

    def test_every_fault_under_every_model(self):
        for mi, drop in enumerate((None, "started", "yes", "no")):
            for fault, charges in self.TABLE.items():
                for endpoint in ("carrier", "carrier_batch"):
                    if fault == "batchfew" and endpoint == "carrier":
                        continue
                    with self.subTest(drop=drop, fault=fault,
                                      endpoint=endpoint):
                        key = self.account(balance=100)
                        if drop is not None:
                            self.model(key, drop_charges=drop)
                        data = self.fire(key, fault, endpoint)
                        if fault in ("close", "chargedrop", "hang"):
                            self.assertEqual(data, b"")
                        charged = charges[max(mi - 1, 0)]
                        s = self.assertMoney(key, 100)
                        want = ({} if not charged else {OK2: 1}
                                if endpoint == "carrier"
                                else {OK1: 1, OK2: 1})
                        self.assertEqual(s["charged_numbers"], want)
                        self.assertEqual(s["requests"][endpoint], 1)

    def test_drop_respects_the_balance_and_the_other_models(self):
        # "processed" means the normal path: -5 charges nothing, and a
        # failed-charged model charges the failure too
        key = self.account(balance=1)
        self.model(key, drop_charges="yes", failed_charged=True)
        self.fire(key, "close", "carrier_batch")   # 3 chargeable > 1: -5
        self.assertEqual(self.assertMoney(key, 1)["charged"], 0)
        self.control("POST", "accounts", {"apikey": key, "balance": 10})
        self.fire(key, "close", "carrier_batch")
        self.assertEqual(self.assertMoney(key, 10)["charged_numbers"],
                         {OK1: 1, OK2: 1, BAD4: 1})


class ChargeDrop(Base):
    def test_chargedrop_charges_then_closes(self):
        key = self.account(balance=10)
        c = self.conn()
        c.request("GET", "/_fault/chargedrop/carrier?apikey=%s&mobile=%s"
                  % (key, OK1))
        with self.assertRaises(http.client.RemoteDisconnected):
            c.getresponse()
        c.close()
        s = self.assertMoney(key, 10)
        self.assertEqual(s["charged_numbers"], {OK1: 1})
        e = self.log(key)[-1]
        self.assertEqual((e["status"], e["code"], e["charged"]),
                         ("close", None, 1))
        # *N: lost once, then answered (and charged again)
        p = "/_fault/chargedrop*1"
        with self.assertRaises((ValueError, OSError,
                                http.client.HTTPException)):
            self.batch(key, [OK1, OK2], p)
        self.assertEqual([e["code"] for e in self.batch(key, [OK1, OK2], p)],
                         [0, 0])
        s = self.assertMoney(key, 10)
        self.assertEqual(s["charged_numbers"], {OK1: 3, OK2: 2})
        self.assertEqual([e["charged"] for e in self.log(key)], [1, 2, 2])

    def test_chargedrop_with_latency_and_minus8_first(self):
        key = self.account(balance=10)
        t = time.perf_counter()
        with self.assertRaises(http.client.RemoteDisconnected):
            c = self.conn()
            c.request("GET", "/_fault/chargedrop,latency=200/carrier?"
                      "apikey=%s&mobile=%s" % (key, OK1))
            c.getresponse()
        self.assertGreaterEqual(time.perf_counter() - t, 0.2)
        # the first replacing item wins: minus8 before chargedrop is free
        self.assertError(self.get("/_fault/minus8,chargedrop/carrier",
                                  apikey=key, mobile=OK1), -8)
        self.assertEqual(self.assertMoney(key, 10)["charged"], 1)


class ChargeCounters(Base):
    def test_per_number_and_per_endpoint(self):
        key = self.account(balance=100)
        self.get("/carrier", apikey=key, mobile=OK1)
        self.post_form("/carrier", apikey=key, mobile=OK1)
        self.get("/carrier", apikey=key, mobile=BAD4)        # free
        self.batch(key, [OK1, OK2, BAD4, OK2])
        self.batch(key, [OK3], "/_fault/minus8")             # free
        self.get("/balance", apikey=key)                     # free
        s = self.assertMoney(key, 100)
        self.assertEqual(s["charged_numbers"], {OK1: 3, OK2: 2})
        self.assertEqual(s["charged_distinct"], 2)
        self.assertEqual(s["charged_by_endpoint"],
                         {"carrier": 2, "carrier_batch": 3})
        self.assertEqual(s["sent"], {OK1: 3, OK2: 2, BAD4: 2, OK3: 1})
        self.assertEqual([e["charged"] for e in self.log(key)],
                         [1, 1, 0, 3, 0, 0])
        # a -5 envelope charges nothing and is counted nowhere
        self.control("POST", "accounts", {"apikey": key, "balance": 1})
        self.assertError(self.batch(key, [OK1, OK2]), -5)
        self.assertEqual(self.assertMoney(key, 1, earlier=5)["charged"], 5)

    def test_concurrent_charges_are_all_counted(self):
        key = self.account(balance=10 ** 6)
        nums = ["1390000%04d" % i for i in range(1, 101)]

        def worker(i):
            c = self.conn()
            for _ in range(5):
                self.raw("POST", "/carrier_batch", json.dumps(
                    {"ApiKey": key, "PhoneNumbers": nums}), conn=c)
                self.raw("GET", "/carrier?apikey=%s&mobile=%s"
                         % (key, nums[i]), conn=c)
            c.close()
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        s = self.assertMoney(key, 10 ** 6)
        self.assertEqual(s["charged"], 8 * 5 * 101)
        self.assertEqual(s["charged_numbers"][nums[0]], 45)
        self.assertEqual(s["charged_numbers"][nums[99]], 40)


class Throttle(Base):
    def hold(self, key, n):
        """n requests of key kept in flight (hang) until the sockets close."""
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            s.sendall(("GET /_fault/hang/balance?apikey=%s HTTP/1.1\r\n"
                       "Host: x\r\n\r\n" % key).encode())
            socks.append(s)
        self.wait_for(lambda: self.stats(key)["in_flight"] == n,
                      what="%d requests in flight" % n)
        return socks

    def release(self, key, socks):
        for s in socks:
            s.close()
        self.wait_for(lambda: self.stats(key)["in_flight"] == 0,
                      what="the held requests to end")

    def test_429_above_the_limit_truly_concurrent(self):
        key = self.account(balance=100)
        self.model(key, inflight_limit=2)
        held = self.hold(key, 2)
        results = []
        barrier = threading.Barrier(3)

        def one():
            c = self.conn()
            barrier.wait()
            c.request("GET", "/carrier?apikey=%s&mobile=%s" % (key, OK1))
            r = c.getresponse()
            r.read()
            results.append((r.status, r.getheader("Retry-After")))
            c.close()
        ts = [threading.Thread(target=one) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(results, [(429, "1")] * 3)
        s = self.assertMoney(key, 100)
        self.assertEqual((s["refused_429"], s["charged"], s["max_in_flight"],
                          s["in_flight"]), (3, 0, 2, 2))
        self.assertEqual(s["requests"]["carrier"], 3)
        self.assertEqual(s["numbers_sent"], 3)
        refused = [e for e in self.log(key) if e["refused"]]
        self.assertEqual([(e["refused"], e["status"]) for e in refused],
                         [("inflight", 429)] * 3)
        self.release(key, held)
        self.assertEqual(self.get("/carrier", apikey=key,
                                  mobile=OK1)["code"], 0)
        s = self.assertMoney(key, 100)
        self.assertEqual((s["refused_429"], s["charged"]), (3, 1))

    def test_limit_is_exact_under_load(self):
        key = self.account(balance=10 ** 6)
        self.model(key, inflight_limit=3)
        seen = {"ok": 0, 429: 0}
        lock = threading.Lock()

        def worker():
            c = self.conn()
            for i in range(10):
                st, h, b = self.raw("GET", "/_fault/latency=%d/carrier?"
                                    "apikey=%s&mobile=%s"
                                    % (i % 3 * 10, key, OK1), conn=c)
                with lock:
                    seen["ok" if st == 200 else st] += 1
            c.close()
        ts = [threading.Thread(target=worker) for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        s = self.assertMoney(key, 10 ** 6)
        self.assertEqual(seen["ok"] + seen[429], 120)
        self.assertEqual(s["refused_429"], seen[429])
        self.assertEqual(s["charged"], seen["ok"])
        self.assertEqual(s["max_in_flight"], 3)
        self.assertGreater(seen[429], 0)

    def test_client_within_the_limit_is_never_refused(self):
        # the emulator ends a request's in-flight time before its last
        # byte: a client that waits for its answers is never over the
        # limit, whether its next request comes on the same connection
        # (same server thread) or on a new one (another server thread)
        key = self.account(balance=10 ** 6)
        self.model(key, inflight_limit=4)
        statuses = []

        def worker(reuse):
            c = self.conn()
            for i in range(30):
                st, h, b = self.raw("POST", "/carrier_batch", json.dumps(
                    {"ApiKey": key, "PhoneNumbers": [OK1] * (i * 30 + 1)}),
                    conn=c if reuse else None)
                statuses.append(st)
            c.close()
        ts = [threading.Thread(target=worker, args=(i % 2 == 0,))
              for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        s = self.stats(key)
        self.assertEqual(statuses, [200] * 120)
        self.assertEqual(s["refused_429"], 0)
        self.assertLessEqual(s["max_in_flight"], 4)

    def test_limit_counts_every_endpoint_and_survives_a_reset(self):
        key = self.account(balance=100)
        self.model(key, inflight_limit=1)
        held = self.hold(key, 1)
        st, h, b = self.raw("POST", "/carrier_batch", json.dumps(
            {"ApiKey": key, "PhoneNumbers": [OK1]}))
        self.assertEqual(st, 429)
        # a reset clears the counters and the model, not the live count
        self.control("POST", "reset", {"apikey": key})
        self.model(key, inflight_limit=1)
        self.assertEqual(self.stats(key)["in_flight"], 1)
        self.assertEqual(self.raw("GET", "/balance?apikey=" + key)[0], 429)
        self.assertEqual(self.stats(key)["refused_429"], 1)
        self.release(key, held)
        self.assertEqual(self.raw("GET", "/balance?apikey=" + key)[0], 200)

    def test_limit_is_per_key(self):
        key, other = self.account(), self.account()
        self.model(key, inflight_limit=1)
        held = self.hold(key, 1)
        held += self.hold(other, 3)  # no limit on other
        self.assertEqual(self.raw("GET", "/balance?apikey=" + other)[0], 200)
        self.assertEqual(self.raw("GET", "/balance?apikey=" + key)[0], 429)
        self.assertEqual(self.stats(other)["refused_429"], 0)
        for s in held:
            s.close()

    def test_refused_requests_use_up_no_fault(self):
        key = self.account(balance=100)
        self.model(key, inflight_limit=1)
        held = self.hold(key, 1)
        self.assertEqual(self.raw("GET", "/_fault/minus8*1/carrier?apikey="
                                  "%s&mobile=%s" % (key, OK1))[0], 429)
        self.release(key, held)
        self.assertError(self.get("/_fault/minus8*1/carrier", apikey=key,
                                  mobile=OK1), -8)

    def test_refusal_window_429_and_minus8(self):
        key = self.account(balance=100)
        m = self.model(key, refuse="429", refuse_ms=10000)
        self.assertEqual(m["refuse"]["answer"], "429")
        self.assertGreater(m["refuse"]["remaining_ms"], 8000)
        for path in ("/carrier?mobile=%s&apikey=" % OK1, "/balance?apikey="):
            st, h, b = self.raw("GET", path + key)
            self.assertEqual(st, 429)
            # the seconds left in the window, rounded up
            self.assertIn(h["retry-after"], ("8", "9", "10"))
        st, h, b = self.raw("POST", "/carrier_batch", json.dumps(
            {"ApiKey": key, "PhoneNumbers": [OK1]}))
        self.assertEqual(st, 429)
        s = self.assertMoney(key, 100)
        self.assertEqual((s["refused_window"], s["refused_429"],
                          s["charged"], s["max_in_flight"]), (3, 0, 0, 0))
        self.assertEqual({e["refused"] for e in self.log(key)}, {"window"})
        # the window can be closed early
        self.assertIsNone(self.model(key, refuse=None)["refuse"])
        self.assertEqual(self.get("/carrier", apikey=key,
                                  mobile=OK1)["code"], 0)
        # -8 for a second on every endpoint, then normal by itself
        self.model(key, refuse="minus8", refuse_ms=1000)
        self.assertError(self.get("/carrier", apikey=key, mobile=OK1), -8)
        self.assertError(self.batch(key, [OK1]), -8)
        self.assertError(self.get("/balance", apikey=key), -8)
        self.wait_for(lambda: self.control("GET", "model", apikey=key)[1]
                      ["refuse"] is None, what="the window to close")
        self.assertEqual(self.batch(key, [OK1])[0]["code"], 0)
        s = self.assertMoney(key, 100)
        self.assertEqual((s["refused_window"], s["charged"]), (6, 2))


class PerEndpointFaults(Base):
    def test_default_counts_across_endpoints(self):
        key = self.account()
        p = "/_fault/minus8*1"
        self.assertError(self.get(p + "/carrier", apikey=key, mobile=OK1), -8)
        self.assertEqual(self.batch(key, [OK1], p)[0]["code"], 0)
        self.assertEqual(self.get(p + "/balance", apikey=key)["code"], 0)

    def test_perendpoint(self):
        key = self.account()
        p = "/_fault/minus8*1,perendpoint"
        for _ in range(2):  # a second round: each endpoint used its one
            first = _ == 0
            a = self.get(p + "/carrier", apikey=key, mobile=OK1)
            b = self.batch(key, [OK1], p)
            c = self.get(p + "/balance", apikey=key)
            if first:
                self.assertError(a, -8)
                self.assertError(b, -8)
                self.assertError(c, -8)
            else:
                self.assertEqual((a["code"], b[0]["code"], c["code"]),
                                 (0, 0, 0))
        # per key too, and a reset of the key starts over
        other = self.account()
        self.assertError(self.get(p + "/balance", apikey=other), -8)
        self.control("POST", "reset", {"apikey": key})
        self.assertError(self.batch(key, [OK1], p), -8)
        self.assertEqual(self.batch(key, [OK1], p)[0]["code"], 0)
        # the counter belongs to the spec string: an old-style spec is apart
        self.assertError(self.batch(key, [OK1], "/_fault/minus8*1"), -8)

    def test_perendpoint_with_several_limits(self):
        key = self.account()
        p = "/_fault/perendpoint,http503*2,latency=0"
        for ep in ("/carrier?mobile=%s&apikey=" % OK1, "/balance?apikey="):
            self.assertEqual([self.raw("GET", p + ep + key)[0]
                              for _ in range(3)], [503, 503, 200])
        self.assertEqual(self.raw("GET", "/_fault/perendpoint*2/balance"
                                  "?apikey=" + key)[0], 400)
        self.assertEqual(self.raw("GET", "/_fault/perendpoint=1/balance"
                                  "?apikey=" + key)[0], 400)


class EmuctlModels(Base):
    def emuctl(self, *args, ok=True, url="env"):
        env = dict(os.environ)
        env.pop("QXT_EMU_URL", None)
        if url == "env":
            env["QXT_EMU_URL"] = "http://127.0.0.1:%d" % PORT
        r = subprocess.run([sys.executable, EMUCTL] + list(args),
                           capture_output=True, env=env, timeout=20)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_model_set_read_and_reset(self):
        key = self.account(balance=1)
        d = ('{"account_codes":"envelope","apikey":"%s","drop_charges":'
             '"started","failed_charged":false,"inflight_limit":null,'
             '"refuse":null}\n' % key)
        self.assertEqual(self.emuctl("model", key).stdout.decode(), d)
        out = self.emuctl("model", key, "--account-codes", "elements",
                          "--failed-charged", "yes", "--drop-charges", "yes",
                          "--inflight-limit", "8").stdout.decode()
        self.assertEqual(out, '{"account_codes":"elements","apikey":"%s",'
                         '"drop_charges":"yes","failed_charged":true,'
                         '"inflight_limit":8,"refuse":null}\n' % key)
        self.assertEqual(self.emuctl("model", key).stdout.decode(), out)
        # the model is live: per-element -5 after a partial charge
        self.assertEqual([e["code"] for e in self.batch(key, [OK1, OK2])],
                         [0, -5])
        out = self.emuctl("model", key, "--inflight-limit", "none",
                          "--failed-charged", "no").stdout.decode()
        self.assertIn('"failed_charged":false,"inflight_limit":null', out)
        r = self.emuctl("model", key, "--refuse", "minus8", "--refuse-ms",
                        "60000")
        self.assertIn('"answer":"minus8"', r.stdout.decode())
        self.assertError(self.get("/balance", apikey=key), -8)
        self.assertEqual(self.emuctl("reset", key).stdout, b"reset %s\n"
                         % key.encode())
        self.assertEqual(self.emuctl("model", key).stdout.decode(), d)
        out = self.emuctl("model", key, "--account-codes", "elements")
        out = self.emuctl("model", key, "--defaults").stdout.decode()
        self.assertEqual(out, d)
        for bad in (["--inflight-limit", "0"], ["--failed-charged", "maybe"],
                    ["--drop-charges", "sometimes"], ["--refuse", "429"],
                    ["--refuse-ms", "5"]):
            with self.subTest(bad=bad):
                r = self.emuctl("model", key, *bad, ok=False)
                self.assertEqual(r.returncode, 2)
        self.assertEqual(self.emuctl("model", key).stdout.decode(), d)

    def test_charged(self):
        key = self.account(balance=10)
        self.batch(key, [OK1, OK2, BAD4])
        self.get("/carrier", apikey=key, mobile=OK1)
        self.assertEqual(self.emuctl("charged", key, OK1).stdout, b"2\n")
        self.assertEqual(self.emuctl("charged", key, BAD4).stdout, b"0\n")
        self.assertEqual(self.emuctl("charged", key).stdout,
                         b"charged=3 carrier=1 carrier_batch=2 distinct=2 "
                         b"max_per_number=2 balance=7\n")
        self.assertEqual(self.emuctl("sent", key).stdout,
                         b"carrier=1 carrier_batch=1 balance=0 numbers=4 "
                         b"distinct=3 charged=3\n")

    def test_url_option_and_missing_url(self):
        key = self.account()
        url = "http://127.0.0.1:%d" % PORT
        self.assertEqual(self.emuctl("--url", url, "health",
                                     url=None).stdout, b"ok\n")
        self.assertEqual(self.emuctl("--url", url, "sent", key,
                                     url=None).stdout,
                         b"carrier=0 carrier_batch=0 balance=0 numbers=0 "
                         b"distinct=0 charged=0\n")
        r = self.emuctl("sent", key, ok=False, url=None)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"export QXT_EMU_URL", r.stderr)
        self.assertIn(b"--url", r.stderr)


class Lean(Base):
    """--lean: aggregates only.  Runs on its own emulator."""

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port, pf, cls.tmp = start_emulator("--lean")

    @classmethod
    def tearDownClass(cls):
        stop_emulator(cls.proc, cls.tmp)

    def setUp(self):
        global PORT
        self.saved, PORT = PORT, self.port

    def tearDown(self):
        global PORT
        PORT = self.saved

    def emuctl(self, *args):
        env = dict(os.environ, QXT_EMU_URL="http://127.0.0.1:%d" % PORT)
        return subprocess.run([sys.executable, EMUCTL] + list(args),
                              capture_output=True, env=env, timeout=20)

    def test_aggregates_without_per_number_data(self):
        key = self.account(balance=10)
        self.model(key, account_codes="elements")
        self.get("/carrier", apikey=key, mobile=OK1)
        self.get("/carrier", apikey=key, mobile=BAD4)
        arr = self.batch(key, [OK1, OK2, BAD4] + ["139%08d" % i
                                                  for i in range(1, 11)])
        self.assertEqual([e["code"] for e in arr].count(-5), 3)
        self.get("/balance", apikey=key)
        s = self.stats(key)
        self.assertEqual(s, {
            "requests": {"carrier": 2, "carrier_batch": 1, "balance": 1},
            "numbers_sent": 15, "distinct_numbers": None, "sent": None,
            "charged": 10,
            "charged_by_endpoint": {"carrier": 1, "carrier_batch": 9},
            "charged_distinct": None, "charged_numbers": None,
            "balance": 0, "in_flight": 0, "max_in_flight": 1,
            "refused_429": 0, "refused_window": 0, "key_in_url": 3,
            "connections": 4, "lean": True})
        st, r = self.control("GET", "requests", apikey=key)
        self.assertEqual(st, 409)
        self.assertIn("--lean", r["error"])
        for args in (("count", key, OK1), ("charged", key, OK1),
                     ("requests", key)):
            with self.subTest(args=args):
                r = self.emuctl(*args)
                self.assertEqual((r.returncode, r.stdout), (2, b""))
                self.assertIn(b"unavailable", r.stderr)
                self.assertIn(b"--lean", r.stderr)
        r = self.emuctl("sent", key)
        self.assertEqual(r.stdout, b"carrier=2 carrier_batch=1 balance=1 "
                         b"numbers=15 distinct=unavailable charged=10\n")
        r = self.emuctl("charged", key)
        self.assertEqual(r.stdout, b"charged=10 carrier=1 carrier_batch=9 "
                         b"distinct=unavailable max_per_number=unavailable "
                         b"balance=0\n")

    def test_memory_stays_flat(self):
        # 100 batches of 1000 distinct numbers: a full emulator keeps two
        # maps of them (sent, charged_numbers), a lean one nothing
        def rss(pid):
            with open("/proc/%d/status" % pid) as f:
                return int(next(l for l in f
                                if l.startswith("VmRSS:")).split()[1])

        def push(port, key, rounds):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for i in range(rounds):
                nums = ["13%05d%04d" % (i, j) for j in range(1, 1001)]
                c.request("POST", "/carrier_batch", json.dumps(
                    {"ApiKey": key, "PhoneNumbers": nums}))
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
            c.close()

        full, fport, pf, ftmp = start_emulator()
        try:
            growth = {}
            for name, proc, port in (("lean", self.proc, self.port),
                                     ("full", full, fport)):
                push(port, BIG, 5)  # warm up: allocator, caches
                before = rss(proc.pid)
                push(port, BIG, 100)
                growth[name] = (rss(proc.pid) - before) / 1024.0
        finally:
            stop_emulator(full, ftmp)
        self.assertLess(growth["lean"], 4, growth)
        self.assertGreater(growth["full"], 12, growth)


class ResetAll(Base):
    """Runs on its own emulator: a full reset would disturb other tests."""

    def test_reset_all(self):
        global PORT
        proc, port, pf, tmp = start_emulator("--latency-batch-ms", "5")
        saved, PORT = PORT, port
        try:
            key = self.account()
            self.get("/carrier", apikey=SMALL, mobile="13972565391")
            self.control("POST", "config", {"latency_batch_ms": 50})
            self.model(SMALL, account_codes="elements", inflight_limit=1)
            st, r = self.control("POST", "reset")
            self.assertEqual(st, 200)
            self.assertEqual(self.control("GET", "model", apikey=SMALL)[1],
                             dict(ModelApi.DEFAULT, apikey=SMALL))
            self.assertError(self.get("/balance", apikey=key), -1)
            self.assertEqual(self.get("/balance", apikey=SMALL)["result"]
                             ["balance"], "5")
            self.assertEqual(self.stats(SMALL)["numbers_sent"], 0)
            self.assertEqual(self.control("GET", "config")[1],
                             {"latency_single_ms": 0,
                              "latency_batch_ms": 5})
            self.assertError(self.batch(SMALL, ["139%08d" % i
                                                for i in range(1, 7)]), -5)
        finally:
            PORT = saved
            stop_emulator(proc, tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)
