#!/usr/bin/env python3
"""A counting HTTP forward proxy on 127.0.0.1, for the proxy tests.

Every request that reaches it (absolute-URI GET/POST, or CONNECT) is
appended as one line to the log file; a request for a host other than
127.0.0.1 or a CONNECT is answered 403 and forwarded nowhere, so nothing
leaves the machine.  Plain HTTP requests for 127.0.0.1 are forwarded and
their answers relayed.

    count_proxy.py --port-file PATH --log PATH
"""
import argparse
import http.client
import http.server
import os
import signal
import sys
import threading
import urllib.parse


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _record(self):
        with self.server.lock, open(self.server.log, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))

    def _refuse(self):
        body = b"refused by count_proxy\n"
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        self._record()
        self._refuse()
        self.close_connection = True

    def _forward(self):
        self._record()
        u = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if u.scheme != "http" or u.hostname != "127.0.0.1":
            self._refuse()
            return
        path = u.path + ("?" + u.query if u.query else "")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection", "host")}
        c = http.client.HTTPConnection("127.0.0.1", u.port or 80, timeout=30)
        c.request(self.command, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()

    do_GET = _forward
    do_POST = _forward


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    open(args.log, "a").close()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    srv.daemon_threads = True
    srv.log = args.log
    srv.lock = threading.Lock()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
