#!/usr/bin/env python3
"""A loopback TCP listener that never accepts: its accept queue is filled at
start, so every further connection attempt gets no answer to its SYN and
the client's connect timeout fires.  Used to test qxt.connect_timeout_ms
without sending a packet anywhere but 127.0.0.1.

    blackhole.py --port-file PATH      (writes the port, then sleeps until killed)
"""
import argparse
import os
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]

    # Fill the accept queue with connections nobody accepts.  Linux keeps
    # backlog + 1 completed connections; after that SYNs are dropped.
    fillers = []
    for _ in range(8):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.3)

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
