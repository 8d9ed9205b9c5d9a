#!/usr/bin/env python3
"""Regression helper: runs one query through the extended protocol, one row
per Execute message (psql and libpq cannot send an Execute with a row
limit), to show that a portal is one statement across its Executes.

    test/refresh/portal.py SETUP_SQL QUERY

SETUP_SQL is sent first as a simple query (e.g. LOAD, SET); QUERY is then
parsed, bound and executed one row at a time in one implicit transaction.
Prints each row and how many Execute messages it took.  Connects with the
usual libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE);
authentication trust, password, md5 or SCRAM-SHA-256.  Standard library
only.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys


class Conn:
    def __init__(self):
        host = os.environ.get("PGHOST", "localhost")
        port = int(os.environ.get("PGPORT", "5432"))
        if host.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(os.path.join(host, ".s.PGSQL.%d" % port))
        else:
            if host != "localhost" and not host.startswith("127."):
                sys.exit("portal.py: only local servers")
            self.sock = socket.create_connection(("127.0.0.1", port))
        self.user = os.environ.get("PGUSER") or os.environ.get("USER", "postgres")
        self.password = os.environ.get("PGPASSWORD", "")
        self.buf = b""
        db = os.environ.get("PGDATABASE", "contrib_regression")
        body = struct.pack("!i", 196608) + b"user\0" + self.user.encode() + b"\0" \
            + b"database\0" + db.encode() + b"\0\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.authenticate()
        self.until_ready()

    def send(self, kind, payload=b""):
        self.sock.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)

    def recv(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!i", self.buf[1:5])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                sys.exit("portal.py: the server closed the connection")
            self.buf += chunk
        n = struct.unpack("!i", self.buf[1:5])[0]
        kind, payload = self.buf[0:1], self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        if kind == b"E":
            fields = dict((f[0:1], f[1:].decode()) for f in payload.split(b"\0") if f)
            sys.exit("portal.py: %s: %s" % (fields.get(b"C"), fields.get(b"M")))
        return kind, payload

    def authenticate(self):
        while True:
            kind, payload = self.recv()
            if kind != b"R":
                sys.exit("portal.py: unexpected message during authentication")
            code = struct.unpack("!i", payload[:4])[0]
            if code == 0:
                return
            if code == 3:
                self.send(b"p", self.password.encode() + b"\0")
            elif code == 5:
                inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
                outer = hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
                self.send(b"p", b"md5" + outer.encode() + b"\0")
            elif code == 10:
                self.scram()
            else:
                sys.exit("portal.py: authentication method %d not supported" % code)

    def scram(self):
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = "n=,r=" + nonce
        first = ("n,," + first_bare).encode()
        self.send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        kind, payload = self.recv()
        server_first = payload[4:].decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
                                     base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_bare = "c=biws,r=" + attrs["r"]
        auth_message = ",".join([first_bare, server_first, final_bare]).encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.send(b"p", (final_bare + ",p=" + base64.b64encode(proof).decode()).encode())
        self.recv()  # AuthenticationSASLFinal

    def until_ready(self):
        rows = []
        while True:
            kind, payload = self.recv()
            if kind == b"D":
                ncol = struct.unpack("!h", payload[:2])[0]
                pos, row = 2, []
                for _ in range(ncol):
                    ln = struct.unpack("!i", payload[pos:pos + 4])[0]
                    pos += 4
                    row.append(None if ln < 0 else payload[pos:pos + ln].decode())
                    pos += max(ln, 0)
                rows.append(row)
            elif kind == b"s":
                rows.append("suspended")
            elif kind == b"Z":
                return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    setup, query = sys.argv[1], sys.argv[2]
    c = Conn()
    c.send(b"Q", setup.encode() + b"\0")
    c.until_ready()
    c.send(b"P", b"\0" + query.encode() + b"\0" + struct.pack("!h", 0))
    c.send(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 0))
    executes = 0
    rows = []
    while True:
        c.send(b"E", b"\0" + struct.pack("!i", 1))
        c.send(b"H")  # Flush: the answer to this Execute, without ending the transaction
        executes += 1
        done = False
        while True:
            kind, payload = c.recv()
            if kind == b"D":
                rows.append(payload)
            elif kind == b"s":
                break
            elif kind == b"C":
                done = True
                break
        if done:
            break
    c.send(b"S")
    c.until_ready()
    for payload in rows:
        ln = struct.unpack("!i", payload[2:6])[0]
        print(payload[6:6 + ln].decode() if ln >= 0 else "NULL")
    print("%d rows in %d Execute messages" % (len(rows), executes))
    c.send(b"X")


if __name__ == "__main__":
    main()
