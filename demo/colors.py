#!/usr/bin/env python3
"""Blue and green HTTP servers, and a client that counts which color answered, for the demo's real-traffic
part (demo/real-traffic.sh). Standard library only.

  colors.py serve COLOR PORT [--fail-percent N]   answers "COLOR" with x-color: COLOR; 500 to N % of requests
  colors.py client URL                             GETs URL from 4 threads until SIGTERM; a line per second,
                                                   then the totals
"""
import argparse
import http.server
import signal
import sys
import threading
import time
import urllib.error
import urllib.request


def serve(color, port, fail_percent):
    served = [0]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            code = 200
            if self.path != "/health":
                with lock:
                    n = served[0]
                    served[0] += 1
                # Of every 100 requests, exactly fail_percent fail, spread evenly.
                if (n + 1) * fail_percent // 100 > n * fail_percent // 100:
                    code = 500
            body = f"{color}\n".encode()
            self.send_response(code)
            self.send_header("x-color", color)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # HAProxy's health checks and the client reset connections: not worth a traceback

    Server(("127.0.0.1", port), Handler).serve_forever()


def client(url):
    keys = ("blue", "green", "failed_blue", "failed_green", "failed_other")
    total = dict.fromkeys(keys, 0)
    second = dict.fromkeys(keys, 0)
    lock = threading.Lock()
    stop = threading.Event()

    def work():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    status, served = r.status, r.headers.get("x-served-by", "")
                    r.read()
            except urllib.error.HTTPError as e:
                status, served = e.code, e.headers.get("x-served-by", "")
            except Exception:
                status, served = None, ""
            color = "blue" if served.startswith("blue") else "green" if served.startswith("green") else None
            failed = status is None or status >= 500
            with lock:
                for d in (total, second):
                    if color:
                        d[color] += 1
                    if failed:
                        d[f"failed_{color or 'other'}"] += 1
            time.sleep(0.005)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(1)
        with lock:
            answered = second["blue"] + second["green"]
            share = 100 * second["green"] / answered if answered else 0
            failed = second["failed_blue"] + second["failed_green"] + second["failed_other"]
            print(f"    client: {second['blue']:4} blue {second['green']:4} green ({share:3.0f} % green), {failed} failed", flush=True)
            second.update(dict.fromkeys(keys, 0))
    failed = total["failed_blue"] + total["failed_green"] + total["failed_other"]
    print(
        f"    CLIENT TOTAL: {total['blue'] + total['green']} requests, {failed} failed "
        f"({total['failed_green']} on green, {total['failed_blue']} on blue, {total['failed_other']} unattributed)",
        flush=True,
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("serve")
    s.add_argument("color")
    s.add_argument("port", type=int)
    s.add_argument("--fail-percent", type=int, default=0)
    c = sub.add_parser("client")
    c.add_argument("url")
    a = p.parse_args()
    if a.what == "serve":
        serve(a.color, a.port, a.fail_percent)
    else:
        client(a.url)


if __name__ == "__main__":
    sys.exit(main())
