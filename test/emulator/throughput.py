#!/usr/bin/env python3
"""How fast the emulator answers batches: numbers per second, and its memory.

    throughput.py [--requests 10000] [--size 1000] [--connections 2]
                  [--lean | --full] [--url URL]

Without --url it starts its own emulator (latency 0, --quiet, and --lean
unless --full) and reports that process's resident memory before and
after.  Every request carries numbers never sent before, so the per-number
maps of a --full emulator grow with every request, as in a refresh of
millions of distinct numbers.  Each answer is checked for its length and
for its last number; at the end the emulator's counters must equal what
was sent.  Exit 1 when a check fails.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "qxt_emulator.py")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(lean):
    tmp = tempfile.mkdtemp(prefix="qxtthr")
    pf = os.path.join(tmp, "port")
    args = [sys.executable, EMULATOR, "--port", "0", "--port-file", pf,
            "--quiet"] + (["--lean"] if lean else [])
    proc = subprocess.Popen(args)
    deadline = time.time() + 10
    while not os.path.exists(pf):
        if proc.poll() is not None or time.time() > deadline:
            sys.exit("throughput: the emulator did not start")
        time.sleep(0.02)
    with open(pf) as f:
        port = int(f.read())
    return proc, port, tmp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=2)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--lean", action="store_true", default=True)
    g.add_argument("--full", action="store_true")
    ap.add_argument("--url")
    a = ap.parse_args()
    if not (0 < a.size <= 1000 and 0 < a.requests <= 100000):
        ap.error("--size 1..1000, --requests 1..100000")

    proc = tmp = None
    if a.url:
        u = urllib.parse.urlsplit(a.url)
        host, port = u.hostname, u.port
    else:
        proc, port = start(not a.full)[:2]
        host = "127.0.0.1"
    key = "thr" + "%029d" % (os.getpid() * 1000 + int(time.time()) % 1000)
    c = http.client.HTTPConnection(host, port, timeout=60)

    def control(method, path, obj=None):
        c.request(method, path, json.dumps(obj) if obj is not None else None)
        return json.loads(c.getresponse().read())

    control("POST", "/_emu/accounts", {"apikey": key, "balance": 10 ** 12})
    rss0 = rss_kb(proc.pid) if proc else None

    nxt = [0]
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=60)
        head = '{"ApiKey":"%s","PhoneNumbers":["' % key
        while True:
            with lock:
                i = nxt[0]
                if i >= a.requests:
                    break
                nxt[0] += 1
            # "13" + 5 digits of i + 4 digits of j+1: distinct, valid, and
            # never ending in 0000 (the emulator's -4)
            pre = "13%05d" % i
            nums = [pre + "%04d" % (j + 1) for j in range(a.size)]
            body = head + '","'.join(nums) + '"]}'
            conn.request("POST", "/carrier_batch", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            tail = ('"Mobile":"%s"' % nums[-1]).encode()
            if (r.status != 200 or data.count(b'"code":') != a.size
                    or tail not in data[-200:]):
                errors.append("request %d: status %d, %d bytes"
                              % (i, r.status, len(data)))
                break
        conn.close()

    ts = [threading.Thread(target=worker) for _ in range(a.connections)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    st = control("GET", "/_emu/stats?apikey=" + key)
    rss1 = rss_kb(proc.pid) if proc else None
    c.close()
    if proc:
        proc.terminate()
        proc.wait(10)

    n = a.requests * a.size
    print("throughput: %d requests x %d numbers over %d connections, %s "
          "emulator, latency 0" % (a.requests, a.size, a.connections,
                                   "lean" if st.get("lean") else "full"))
    print("  wall %.2f s, %.0f numbers/s, %.2f ms per request"
          % (wall, n / wall, wall / a.requests * 1000))
    if rss0 is not None:
        print("  emulator RSS %.1f MiB before, %.1f MiB after"
              % (rss0 / 1024.0, rss1 / 1024.0))
    ok = (not errors and st["numbers_sent"] == n and st["charged"] == n
          and st["requests"]["carrier_batch"] == a.requests)
    print("  counters: numbers_sent %d, charged %d, requests %d: %s"
          % (st["numbers_sent"], st["charged"],
             st["requests"]["carrier_batch"], "ok" if ok else "WRONG"))
    for e in errors[:5]:
        print("  " + e)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
