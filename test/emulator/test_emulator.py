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
                                    ("http429", 429, "1")):
            with self.subTest(name=name):
                st, h, b = self.raw("GET", "/_fault/%s/carrier?apikey=%s"
                                    "&mobile=13972565391" % (name, key))
                self.assertEqual(st, status)
                self.assertTrue(h["content-type"].startswith("text/html"))
                self.assertEqual(int(h["content-length"]), len(b))
                self.assertIn(b"<html>", b)
                self.assertEqual(h.get("retry-after"), retry)
        self.assertEqual(self.stats(key)["charged"], 0)
        self.assertEqual(self.stats(key)["requests"]["carrier"], 4)

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
            "charged": 3, "balance": 97, "max_in_flight": 1,
            "key_in_url": 2, "connections": 4})
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
            '{"balance":8,"charged":2,"connections":3,"distinct_numbers":2,"key_in_url":2,'
            '"max_in_flight":1,"numbers_sent":3,"requests":{"balance":1,'
            '"carrier":1,"carrier_batch":1},"sent":{"13972560000":1,'
            '"13972565391":2}}\n')
        lines = self.emuctl("requests", key).splitlines()
        self.assertEqual(lines[0],
                         '{"code":0,"endpoint":"carrier","fault":"",'
                         '"key_in_url":true,"method":"GET","n":1,"numbers":1,'
                         '"path":"/carrier","query":"apikey=***&mobile='
                         '13972565391","status":200}')
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
            st, r = self.control("POST", "reset")
            self.assertEqual(st, 200)
            self.assertError(self.get("/balance", apikey=key), -1)
            self.assertEqual(self.get("/balance", apikey=SMALL)["result"]
                             ["balance"], "5")
            self.assertEqual(self.stats(SMALL)["numbers_sent"], 0)
            self.assertEqual(self.control("GET", "config")[1],
                             {"latency_single_ms": 0,
                              "latency_batch_ms": 5})
        finally:
            PORT = saved
            stop_emulator(proc, tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)
