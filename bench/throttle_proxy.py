#!/usr/bin/env python3
"""A throttling HTTP proxy in front of the emulator, to simulate the ELB API's write quota.

    throttle_proxy.py --listen 127.0.0.1:4611 --upstream 127.0.0.1:4610 [--writes-per-second 3]
                      [--delay-ms 50]

Forwards every request to the upstream (moto_server) unchanged, over one upstream connection per client
connection. ELBv2 write calls (Action=ModifyListener|ModifyRule|AddTags|RemoveTags in the form-encoded
body, service elasticloadbalancing in the signature's credential scope) are admitted at most
--writes-per-second in any sliding one-second window; beyond that the proxy answers itself, as AWS does,
with HTTP 400 and the Query-protocol error `Throttling` / `Rate exceeded`. --writes-per-second 0 admits
every write. --delay-ms holds every request that long before forwarding it, as a far-away API does:
requests made at once wait side by side, so a client's added time divided by the delay is the number of
round trips it makes one after another.

HTTP/1.1 with keep-alive (the Rust SDK reuses connections), one thread per client connection
(stdlib only). `GET /__proxy/stats` answers the counters as JSON (with `round_trips`, the longest chain of requests
each sent after the one before was answered, since the last `POST /__proxy/reset`); on SIGTERM/SIGINT the proxy prints them
as one JSON line on stdout and exits.
"""
import argparse
import collections
import http.client
import http.server
import json
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

WRITES = {"ModifyListener", "ModifyRule", "AddTags", "RemoveTags"}
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
       "content-length"}
THROTTLE_BODY = (
    '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>{}</RequestId></ErrorResponse>"
)


class Limiter:
    """At most `rate` admissions in any sliding window of one second."""

    def __init__(self, rate: float):
        self.rate = rate
        self.lock = threading.Lock()
        self.admitted = collections.deque()

    def admit(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self.lock:
            while self.admitted and now - self.admitted[0] >= 1.0:
                self.admitted.popleft()
            if len(self.admitted) >= self.rate:
                return False
            self.admitted.append(now)
            return True


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.forwarded = collections.Counter()
        self.throttled = collections.Counter()
        self.upstream_errors = 0
        self.connections = 0
        self.started = time.time()
        self.first_write = None
        self.last_write = None
        self.spans: list[tuple[float, float]] = []  # (arrived, answered) of each forwarded request

    def reset_spans(self) -> None:
        with self.lock:
            self.spans = []

    def round_trips(self) -> int:
        """The longest chain of forwarded requests each sent after the one before it was answered: the
        client's sequential round trips (requests that overlap count once)."""
        with self.lock:
            spans = sorted(self.spans)
        depth: list[int] = []
        for j, (start, _) in enumerate(spans):
            depth.append(1 + max((depth[i] for i in range(j) if spans[i][1] <= start), default=0))
        return max(depth, default=0)

    def snapshot(self) -> dict:
        with self.lock:
            fw, th = dict(self.forwarded), dict(self.throttled)
            writes = sum(n for k, n in fw.items() if k.split(":")[-1] in WRITES)
            span = (self.last_write - self.first_write) if self.first_write and self.last_write else 0.0
            return {
                "forwarded": fw,
                "throttled": th,
                "forwarded_total": sum(fw.values()),
                "throttled_total": sum(th.values()),
                "writes_forwarded": writes,
                "write_span_seconds": span,
                "upstream_errors": self.upstream_errors,
                "client_connections": self.connections,
                "requests_since_reset": len(self.spans),
            }


def operation(headers, body: bytes) -> tuple[str, str]:
    """(service, action) of a Query-protocol request; ('', '') when it is not one."""
    auth = headers.get("Authorization", "")
    service = ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    action = ""
    ctype = headers.get("Content-Type", "")
    if body and "x-www-form-urlencoded" in ctype:
        try:
            action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        except ValueError:
            action = ""
    return service, action


def make_handler(upstream: tuple[str, int], limiter: Limiter, stats: Stats, delay: float = 0.0):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "albflip-bench-proxy"

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the body until the
            # client's delayed ACK of the headers (about 40 ms per answer).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.upstream = None
            with stats.lock:
                stats.connections += 1

        def finish(self):
            super().finish()
            if self.upstream is not None:
                self.upstream.close()

        def log_message(self, fmt, *args):  # quiet
            pass

        def read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def reply(self, status: int, headers: list, body: bytes):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in HOP and k.lower() not in ("server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self):
            body = self.read_body()
            if self.command == "GET" and self.path == "/__proxy/stats":
                out = json.dumps({**stats.snapshot(), "round_trips": stats.round_trips()}).encode()
                return self.reply(200, [("Content-Type", "application/json")], out)
            if self.command == "POST" and self.path == "/__proxy/reset":
                stats.reset_spans()
                return self.reply(200, [("Content-Type", "text/plain")], b"reset")
            arrived = time.monotonic()
            if delay > 0:
                time.sleep(delay)
            service, action = operation(self.headers, body)
            key = f"{service}:{action}" if action else f"{self.command} {self.path.split('?')[0]}"
            if service == "elasticloadbalancing" and action in WRITES:
                if not limiter.admit():
                    with stats.lock:
                        stats.throttled[key] += 1
                    out = THROTTLE_BODY.format(uuid.uuid4()).encode()
                    return self.reply(400, [("Content-Type", "text/xml"),
                                            ("x-amzn-RequestId", str(uuid.uuid4()))], out)
                with stats.lock:
                    now = time.time()
                    stats.first_write = stats.first_write or now
                    stats.last_write = now
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["Content-Length"] = str(len(body))
            for attempt in (0, 1):
                try:
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(*upstream, timeout=60)
                        self.upstream.connect()
                        self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = self.upstream.getresponse()
                    data = resp.read()
                    break
                except (OSError, http.client.HTTPException) as e:
                    if self.upstream is not None:
                        self.upstream.close()
                    self.upstream = None
                    if attempt == 1:
                        with stats.lock:
                            stats.upstream_errors += 1
                        return self.reply(502, [("Content-Type", "text/plain")], f"upstream: {e}".encode())
            with stats.lock:
                stats.forwarded[key] += 1
                stats.spans.append((arrived, time.monotonic()))
            self.reply(resp.status, resp.getheaders(), data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

    return Handler


def hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", required=True, help="HOST:PORT to listen on")
    p.add_argument("--upstream", required=True, help="HOST:PORT of the emulator")
    p.add_argument("--writes-per-second", type=float, default=3.0, help="0: no limit")
    p.add_argument("--delay-ms", type=float, default=0.0, help="hold every request this long")
    a = p.parse_args()
    stats = Stats()
    handler = make_handler(hostport(a.upstream), Limiter(a.writes_per_second), stats, a.delay_ms / 1000)
    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer.request_queue_size = 256
    server = http.server.ThreadingHTTPServer(hostport(a.listen), handler)

    def stop(*_):
        print(json.dumps(stats.snapshot()), flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"throttle_proxy: listening on {a.listen} -> {a.upstream}, "
          f"{a.writes_per_second:g} ELB writes/s (0: no limit), {a.delay_ms:g} ms delay", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
