#!/usr/bin/env python3
"""The albflip benchmarks (issue 10). Run through bench/run, which starts the emulator and builds albflip;
this script creates the stacks, measures, checks the targets and writes the results.

    bench.py --endpoint URL --proxy-port N --albflip BIN --fleet BIN --out DIR
             [--only rollback,deploy,fleet,startup,micro] [--runs 10] [--detect-runs 10]
             [--fleet-size 100] [--fleet-steps 50,100] [--fleet-concurrency N] [--writes-per-second 3]

Prints a Markdown summary on stdout (the tables of BENCHMARKS.md), writes DIR/results.json and
DIR/summary.md, and exits 1 when a checked target is missed (see "Checks" in BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WRITE_OPS = ("ModifyListener", "ModifyRule", "AddTags", "RemoveTags")
DEPLOY_FLAGS = ["--bake", "4s", "--poll-interval", "1s", "--metric-lag", "0s", "--metric-window", "5s",
                "--metric-period", "1s", "--latency-statistic", "Average", "--output", "json"]
POLL_INTERVAL = 1.0


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def summarize(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "median": statistics.median(xs) if xs else None,
            "min": xs[0] if xs else None, "max": xs[-1] if xs else None}


def ms(x: float | None) -> str:
    return "–" if x is None else (f"{x * 1e3:.0f} ms" if x >= 0.1 else f"{x * 1e3:.1f} ms")


def secs(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} s"


def parse_ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def writes_of(calls: dict) -> int:
    return sum(n for op, n in calls.items() if op.split(":")[-1] in WRITE_OPS)


def modify_params(listener: str, blue: str, green: str, b: int, g: int) -> dict:
    """ModifyListener's form parameters for a weighted forward to blue and green."""
    tg = "DefaultActions.member.1.ForwardConfig.TargetGroups.member"
    return {"ListenerArn": listener, "DefaultActions.member.1.Type": "forward",
            f"{tg}.1.TargetGroupArn": blue, f"{tg}.1.Weight": str(b),
            f"{tg}.2.TargetGroupArn": green, f"{tg}.2.Weight": str(g)}


class RawElb:
    """ELBv2 Query-protocol calls over raw HTTP, one persistent connection per thread: the cost of a round
    trip to the emulator without any SDK's (the emulator does not check signatures)."""

    AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/elasticloadbalancing/aws4_request, "
            "SignedHeaders=host, Signature=0")

    def __init__(self, endpoint: str):
        host, _, port = endpoint.split("//", 1)[1].strip("/").rpartition(":")
        self.address = (host, int(port))
        self.local = threading.local()

    def call(self, action: str, params: dict) -> bytes:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(*self.address, timeout=30)
        body = urllib.parse.urlencode({"Action": action, "Version": "2015-12-01", **params})
        conn.request("POST", "/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Authorization": self.AUTH})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit(f"bench: raw {action} answered {r.status}: {data[:300]!r}")
        return data


class Bench:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.endpoint = a.endpoint
        self.out = Path(a.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "ALBFLIP_CONFIG"):
            self.env.pop(k, None)
        self.env = {k: v for k, v in self.env.items() if not k.startswith("ALBFLIP_")}
        self.elb = boto3.client("elbv2", endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        self.results: dict = {}
        self.checks: list[dict] = []
        self.cwd = self.out  # no albflip.toml there

    # ---------- helpers ----------
    def check(self, name: str, target: str, value: str, ok: bool, hard: bool = True) -> None:
        status = "met" if ok else ("MISSED" if hard else "missed (reported, not failed)")
        self.checks.append({"name": name, "target": target, "value": value, "ok": ok, "hard": hard,
                            "status": status})
        (log if ok else log)(f"check: {name}: {value} (target {target}): {status}")

    def run(self, cmd: list, env: dict | None = None, timeout: float = 120) -> tuple[float, subprocess.CompletedProcess]:
        t0 = time.perf_counter()
        p = subprocess.run([str(c) for c in cmd], env=env or self.env, cwd=self.cwd, capture_output=True,
                           text=True, timeout=timeout)
        return time.perf_counter() - t0, p

    def create_stack(self, app: str) -> dict:
        log(f"creating stack bench-{app}")
        p = subprocess.run([str(REPO / "localstack" / "create-stack"), "--endpoint", self.endpoint,
                            "--environment", "bench", "--application", app],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            sys.exit(f"bench: create-stack bench-{app} failed:\n{p.stderr[-2000:]}")
        stack = json.loads(p.stdout)
        (self.out / f"stack-{app}.json").write_text(json.dumps(stack, indent=2))
        return stack

    def weights(self, listener: str) -> dict:
        action = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]
        tuples = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        return {t["TargetGroupArn"]: t.get("Weight", 1) for t in tuples} or {action.get("TargetGroupArn"): 100}

    def set_weights(self, listener: str, blue: str, green: str, b: int, g: int) -> float:
        t0 = time.perf_counter()
        self.elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": blue, "Weight": b}, {"TargetGroupArn": green, "Weight": g}]}}])
        return time.perf_counter() - t0

    def rss_kb(self, cmd: list) -> int | None:
        timebin = Path("/usr/bin/time")
        if timebin.exists():
            p = subprocess.run([str(timebin), "-f", "%M", *map(str, cmd)], env=self.env, cwd=self.cwd,
                               capture_output=True, text=True)
            try:
                return int(p.stderr.strip().splitlines()[-1])
            except (ValueError, IndexError):
                pass
        helper = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:],capture_output=True);"
                  "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        p = subprocess.run([sys.executable, "-c", helper, *map(str, cmd)], env=self.env, cwd=self.cwd,
                           capture_output=True, text=True)
        return int(p.stdout.strip())

    # ---------- 4. start-up ----------
    def startup(self, listener: str) -> None:
        log("start-up: albflip --help, albflip plan")
        albflip = self.a.albflip
        n = max(self.a.runs, 20)
        cases = {
            "albflip --help": [albflip, "--help"],
            "albflip plan (2 API calls)": [albflip, "--listener-arn", listener, "plan", "--target", "green",
                                           "--steps", "25,50,100", "--output", "json"],
            "baseline: spawn /bin/true": ["/bin/true"],
            "context: aws --version": ["aws", "--version"],
            "context: python -c 'import boto3'": [sys.executable, "-c", "import boto3"],
        }
        out = {}
        for name, cmd in cases.items():
            runs = n if not name.startswith("context") else 5
            self.run(cmd)  # warm-up
            times = []
            for _ in range(runs):
                t, p = self.run(cmd)
                if p.returncode != 0:
                    sys.exit(f"bench: {name} failed: {p.stderr[-1000:]}")
                times.append(t)
            out[name] = {**summarize(times), "peak_rss_kb": max(self.rss_kb(cmd) or 0 for _ in range(3))}
        self.results["startup"] = out

    # ---------- 1. rollback ----------
    def rollback_methods(self, stack: dict) -> dict:
        L, B, G = stack["ListenerArn"], stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]
        albflip = self.a.albflip
        return {
            "albflip rollback (lockstep discovery)": [albflip, "--listener-arn", L, "rollback", "--output", "json"],
            "albflip rollback --single-route (ARNs)": [albflip, "--listener-arn", L, "--single-route", "--blue", B,
                                                       "--green", G, "rollback", "--output", "json"],
            "albflip --environment --application": [albflip, "--environment", "bench", "--application", "rb",
                                                    "rollback", "--output", "json"],
            "boto3 script": [sys.executable, HERE / "rollback_boto3.py", "bench", "rb"],
            "AWS CLI (4 commands)": [HERE / "rollback-awscli.sh", "bench", "rb"],
        }

    def time_rollbacks(self, stack: dict, methods: dict, runs: int, env: dict,
                       proxy_port: int | None = None) -> tuple[dict, dict, list]:
        """Each method `runs` times (+1 warm-up), interleaved, each from 50/50: times, albflip's API calls
        (or, through the proxy on `proxy_port`, the proxy's count of sequential round trips), failed runs."""
        L, B, G = stack["ListenerArn"], stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]
        times = {m: [] for m in methods}
        calls: dict[str, list] = {m: [] for m in methods if m.startswith("albflip") or proxy_port}
        proxy = f"http://127.0.0.1:{proxy_port}/__proxy"
        bad = []
        for i in range(runs + 1):
            for m, cmd in methods.items():
                self.set_weights(L, B, G, 50, 50)
                if proxy_port:
                    urllib.request.urlopen(urllib.request.Request(f"{proxy}/reset", method="POST"), timeout=10).read()
                t, p = self.run(cmd, env=env)
                if proxy_port:
                    with urllib.request.urlopen(f"{proxy}/stats", timeout=10) as r:
                        chain = json.load(r)["round_trips"]
                w = self.weights(L)
                if p.returncode != 0 or w.get(B) != 100 or w.get(G, 0) != 0:
                    bad.append({"method": m, "rc": p.returncode, "weights": w, "stderr": p.stderr[-500:]})
                    continue
                if i == 0:
                    continue  # warm-up
                times[m].append(t)
                if proxy_port:
                    calls[m].append(chain)
                elif m in calls:
                    calls[m].append(json.loads(p.stdout).get("api_calls", {}))
        return times, calls, bad

    def floor(self, stack: dict, runs: int) -> dict:
        """The floor of a rollback: process start (`albflip --help`) plus the round trips it needs, each
        round's calls made at once by a persistent client (raw HTTP, keep-alive, no SDK) against the same
        emulator."""
        L, LB = stack["ListenerArn"], stack["LoadBalancerArn"]
        B, G = stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]
        raw = RawElb(self.endpoint)
        listeners = [l["ListenerArn"] for l in self.elb.describe_listeners(LoadBalancerArn=LB)["Listeners"]]
        write = ("ModifyListener", modify_params(L, B, G, 100, 0))
        rounds = {
            # The load balancer's listeners are the read of the named one too (no DescribeListeners of it).
            "lockstep": [[("DescribeListeners", {"LoadBalancerArn": LB}),
                          ("DescribeTags", {"ResourceArns.member.1": L})],
                         [*(("DescribeRules", {"ListenerArn": l}) for l in listeners),
                          ("DescribeTargetHealth", {"TargetGroupArn": B})],
                         [write]],
            "single-route": [[("DescribeListeners", {"ListenerArns.member.1": L}),
                              ("DescribeTags", {"ResourceArns.member.1": L}),
                              ("DescribeTargetHealth", {"TargetGroupArn": B}),
                              ("DescribeTargetHealth", {"TargetGroupArn": G})],
                             [write]],
            # A 2-round rollback cannot know before its first answer whether the route is sticky, so it
            # asks both target groups whether they are sticky themselves in that round (issue 17: such a
            # route's stickiness is released to 1 s, not off).
            "single-route, sticky-safe": [[("DescribeListeners", {"ListenerArns.member.1": L}),
                                           ("DescribeTags", {"ResourceArns.member.1": L}),
                                           ("DescribeTargetHealth", {"TargetGroupArn": B}),
                                           ("DescribeTargetHealth", {"TargetGroupArn": G}),
                                           ("DescribeTargetGroupAttributes", {"TargetGroupArn": B}),
                                           ("DescribeTargetGroupAttributes", {"TargetGroupArn": G})],
                                          [write]],
        }
        start = []
        for i in range(runs + 1):
            t, _ = self.run([self.a.albflip, "--help"])
            if i:
                start.append(t)
        out = {"process_start": summarize(start)}
        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, rs in rounds.items():
                totals = []
                for i in range(runs + 1):
                    self.set_weights(L, B, G, 50, 50)
                    t0 = time.perf_counter()
                    for r in rs:
                        list(pool.map(lambda c: raw.call(*c), r))
                    if i:
                        totals.append(time.perf_counter() - t0)
                rt = summarize(totals)
                out[name] = {"round_trips": len(rs), "calls": sum(len(r) for r in rs), "rounds": rt,
                             "floor": out["process_start"]["median"] + rt["median"]}
        self.set_weights(L, B, G, 100, 0)
        return out

    def fixed_cost(self, stack: dict) -> dict | None:
        """What albflip does besides its API calls, seen by strace: certificate files opened, and
        connections to anything but the endpoint (credential or metadata probes)."""
        if shutil.which("strace") is None:
            return None
        L, B, G = stack["ListenerArn"], stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]
        self.set_weights(L, B, G, 50, 50)
        trace = self.out / "rollback.strace"
        cmd = ["strace", "-f", "-e", "trace=openat,connect", "-o", trace,
               *self.rollback_methods(stack)["albflip rollback (lockstep discovery)"]]
        _, p = self.run(cmd)
        lines = trace.read_text().splitlines()
        port = self.endpoint.rsplit(":", 1)[1].strip("/")
        certs = [l for l in lines if "openat" in l and ("/ssl/" in l or "cert" in l.lower()) and "ENOENT" not in l]
        connects = [l for l in lines if "connect(" in l and "sin_port" in l and f"htons({port})" not in l]
        return {"rc": p.returncode, "cert_files_opened": len(certs), "other_connections": len(connects),
                "files_opened": sum(1 for l in lines if "openat" in l and "ENOENT" not in l)}

    def delayed(self, stack: dict, methods: dict, direct: dict) -> dict:
        """Every method through a proxy that holds each request `--delay-ms`, and through the same proxy
        holding nothing: round trips = (time with the delay - time without it) / delay. The proxy's own
        forwarding (Python, one thread per connection) costs each request a little, and more on a loaded
        machine; measured both ways through it, that cost is in both times and drops out."""
        delay = self.a.delay_ms / 1000
        port = self.a.proxy_port
        env = {**self.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        measured = {}
        for delay_ms in (0.0, self.a.delay_ms):
            proxy = self.start_proxy(port, 0, delay_ms)
            try:
                log(f"rollback: {self.a.delay_runs} runs of each method through the proxy, {delay_ms:g} ms delay")
                measured[delay_ms] = self.time_rollbacks(stack, methods, self.a.delay_runs, env, port)
            finally:
                self.stop_proxy(proxy)
        (plain, _, bad0), (times, chains, bad) = measured[0.0], measured[self.a.delay_ms]
        out = {"delay_ms": self.a.delay_ms, "runs": self.a.delay_runs, "failures": bad0 + bad, "methods": {}}
        for m in methods:
            r = summarize(times[m])
            base = summarize(plain[m])["median"] or direct[m]["median"]
            r["proxy_no_delay_median"] = base
            r["round_trips"] = (r["median"] - base) / delay if r["median"] and base else None
            r["proxy_round_trips"] = max(chains[m], default=None)
            out["methods"][m] = r
        return out

    def rollback(self, stack: dict) -> None:
        L, B, G = stack["ListenerArn"], stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]
        methods = self.rollback_methods(stack)
        log(f"rollback: {self.a.runs} runs of each of {len(methods)} methods (+1 warm-up), interleaved")
        times, calls, bad = self.time_rollbacks(stack, methods, self.a.runs, self.env)
        res = {"runs": self.a.runs, "methods": {}, "failures": bad}
        base = statistics.median(times["AWS CLI (4 commands)"])
        for m, cmd in methods.items():
            r = summarize(times[m])
            r["cli_over_this"] = base / r["median"] if r["median"] else None
            self.set_weights(L, B, G, 50, 50)
            r["peak_rss_kb"] = self.rss_kb(cmd)
            if m in calls:
                distinct = {json.dumps(c, sort_keys=True) for c in calls[m]}
                r["api_calls"] = calls[m][0] if calls[m] else {}
                r["api_calls_identical_every_run"] = len(distinct) == 1
            else:
                r["api_calls"] = {"elasticloadbalancing:DescribeLoadBalancers": 1,
                                  "elasticloadbalancing:DescribeListeners": 1,
                                  "elasticloadbalancing:DescribeTargetGroups": 1,
                                  "elasticloadbalancing:ModifyListener": 1}
            res["methods"][m] = r
        log("rollback: the floor (raw HTTP rounds against the same emulator)")
        res["floor"] = self.floor(stack, self.a.runs)
        res["fixed_cost"] = self.fixed_cost(stack)
        res["delayed"] = self.delayed(stack, methods, res["methods"])
        self.set_weights(L, B, G, 100, 0)
        self.results["rollback"] = res
        self.rollback_checks(res, bad)

    def rollback_checks(self, res: dict, bad: list) -> None:
        self.check("rollbacks put all traffic on blue", "every run",
                   f"{len(bad) + len(res['delayed']['failures'])} failed runs",
                   not bad and not res["delayed"]["failures"])
        ms_ = res["methods"]
        for m, floor_key, trips in (("albflip rollback (lockstep discovery)", "lockstep", 3),
                                    ("albflip rollback --single-route (ARNs)", "single-route", 2)):
            c = ms_[m]["api_calls"]
            writes = writes_of(c)
            self.check(f"{m}: writes", "exactly 1", f"{writes}", writes == 1)
            got = res["delayed"]["methods"][m]["round_trips"]
            self.check(f"{m}: round trips (time the {res['delayed']['delay_ms']:g} ms delay adds ÷ delay)",
                       f"≤ {trips} (+0.25 for timing noise)", f"{got:.2f}", got is not None and got <= trips + 0.25)
            chain = res["delayed"]["methods"][m]["proxy_round_trips"]
            self.check(f"{m}: round trips (the proxy's longest chain of requests, worst run)",
                       f"≤ {trips}", f"{chain}", chain is not None and chain <= trips)
            floor = res["floor"][floor_key]["floor"]
            ratio = ms_[m]["median"] / floor
            self.check(f"{m}: time ÷ floor", "≤ 1.5×", f"{ratio:.2f}×", ratio <= 1.5, hard=False)
            safe = res["floor"].get(f"{floor_key}, sticky-safe")
            if safe:
                ratio = ms_[m]["median"] / safe["floor"]
                self.check(f"{m}: time ÷ the sticky-safe floor ({safe['calls']} calls)", "≤ 1.5×",
                           f"{ratio:.2f}×", ratio <= 1.5, hard=False)
        lockstep = ms_["albflip rollback (lockstep discovery)"]["cli_over_this"]
        self.check("AWS CLI sequence ÷ albflip rollback (lockstep)", "≥ 100×", f"{lockstep:.0f}×",
                   lockstep >= 100, hard=False)
        fc = res["fixed_cost"]
        if fc is not None:
            self.check("certificate files read for an http endpoint (strace)", "0", f"{fc['cert_files_opened']}",
                       fc["cert_files_opened"] == 0)
            self.check("connections other than the endpoint (credential probes; strace)", "0",
                       f"{fc['other_connections']}", fc["other_connections"] == 0)

    # ---------- proxies ----------
    def start_proxy(self, port: int, writes_per_second: float, delay_ms: float = 0) -> subprocess.Popen:
        upstream = self.endpoint.split("//", 1)[1]
        proxy = subprocess.Popen([sys.executable, HERE / "throttle_proxy.py", "--listen", f"127.0.0.1:{port}",
                                  "--upstream", upstream, "--writes-per-second", str(writes_per_second),
                                  "--delay-ms", str(delay_ms)],
                                 stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return proxy
            except OSError:
                if time.time() > deadline or proxy.poll() is not None:
                    proxy.kill()
                    sys.exit(f"bench: the proxy did not start on port {port}")
                time.sleep(0.1)

    @staticmethod
    def stop_proxy(proxy: subprocess.Popen) -> str:
        proxy.terminate()
        return proxy.communicate(timeout=10)[0]

    # ---------- 2. gradual deployment ----------
    def deploy(self, stack: dict) -> None:
        L, B, G = stack["ListenerArn"], stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]
        stack_file = self.out / "stack-dep.json"
        trigger, faults = self.out / "fault.trigger", self.out / "faults.ndjson"
        for f in (trigger, faults):
            f.unlink(missing_ok=True)
        pub = subprocess.Popen([sys.executable, HERE / "fault_publisher.py", "--endpoint", self.endpoint,
                                "--stack-json", stack_file, "--trigger", trigger, "--log", faults,
                                "--green-errors", "0.2"], env=self.env, stdout=subprocess.DEVNULL)
        try:
            self.reset(L, B, G)
            time.sleep(6)  # a full metric window of healthy history
            runs = [self.fault_run(i, L, B, G, trigger, faults) for i in range(self.a.detect_runs)]
            healthy = self.healthy_run(L)
        finally:
            pub.terminate()
            pub.wait(10)
        delays = [r["delay_event"] for r in runs if r.get("delay_event") is not None]
        seen = [r["delay_observed"] for r in runs if r.get("delay_observed") is not None]
        wait = [r["visible_to_detecting_poll"] for r in runs if r.get("visible_to_detecting_poll") is not None]
        stored = [r["delay_from_stored"] for r in runs if r.get("delay_from_stored") is not None]
        act = [r["detecting_poll_to_rolled_back"] for r in runs if r.get("detecting_poll_to_rolled_back") is not None]
        res = {"healthy": healthy, "fault_runs": runs,
               "detection_delay": summarize(delays), "detection_delay_observed": summarize(seen),
               "visible_to_detecting_poll": summarize(wait), "delay_from_stored": summarize(stored), "detecting_poll_to_rolled_back": summarize(act)}
        self.results["deploy"] = res
        target = POLL_INTERVAL + 1.0
        ok_runs = [r for r in runs if r.get("ok")]
        self.check("fault runs rolled back (exit 3, 100/0 on blue)", f"{len(runs)} of {len(runs)}",
                   f"{len(ok_runs)} of {len(runs)}", len(ok_runs) == len(runs))
        med = res["detection_delay"]["median"]
        self.check("detection delay, median", f"≤ {target:.1f} s (poll interval + 1 s)", secs(med),
                   med is not None and med <= target)
        mx = res["detection_delay"]["max"]
        self.check("detection delay, worst run", f"≤ {target:.1f} s", secs(mx), mx is not None and mx <= target,
                   hard=False)
        self.check("GetMetricData per poll", "1", f"{healthy['get_metric_data_per_poll']:.2f}",
                   abs(healthy["get_metric_data_per_poll"] - 1) < 1e-9)
        self.check("traffic writes (ModifyListener) per step", "1", f"{healthy['modify_listener_per_step']:.2f}",
                   abs(healthy["modify_listener_per_step"] - 1) < 1e-9)
        self.check("listener reads per step", "1 read-back", f"{healthy['describe_listeners_per_step']:.2f} "
                   "(drift check before the write + read-back after it)",
                   healthy["describe_listeners_per_step"] <= 1, hard=False)

    def deploy_proc(self, target: str = "green") -> tuple[subprocess.Popen, list, threading.Thread]:
        cmd = [self.a.albflip, "--listener-arn", self.dep_listener, "deploy", "--target", target,
               "--steps", "25,50,100", *DEPLOY_FLAGS]
        p = subprocess.Popen([str(c) for c in cmd], env=self.env, cwd=self.cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        lines: list = []

        def reader():
            for line in p.stdout:
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        return p, lines, t

    def reset(self, L: str, B: str, G: str) -> None:
        """All traffic on blue and no albflip state (a re-used emulator may hold an earlier run's)."""
        self.set_weights(L, B, G, 100, 0)
        self.elb.remove_tags(ResourceArns=[L], TagKeys=["albflip:stable", "albflip:state", "albflip:target"])

    def fault_run(self, i: int, L: str, B: str, G: str, trigger: Path, faults: Path) -> dict:
        self.dep_listener = L
        w = self.weights(L)
        if w.get(B) != 100 or w.get(G, 0) != 0:
            self.set_weights(L, B, G, 100, 0)
        p, events, reader = self.deploy_proc()
        deadline = time.time() + 30
        while not any(e.get("event") == "weights_applied" for e in events):
            if time.time() > deadline or p.poll() is not None:
                reader.join(2)
                err = p.stderr.read() if p.poll() is not None else ""
                p.kill()
                r = {"run": i, "ok": False, "error": f"no weights_applied: {events[-3:]} {err[-500:]}"}
                log(f"deploy: fault run {i + 1} failed: {r['error']}")
                return r
            time.sleep(0.01)
        time.sleep(random.uniform(1.2, 2.2))  # a random phase relative to the 1 s polls
        label = f"run-{i}-{time.time()}"
        back_seen: list = []

        def watch():
            end = time.time() + 30
            while time.time() < end:
                w = self.weights(L)
                if w.get(B) == 100 and w.get(G, 0) == 0:
                    back_seen.append(time.time())
                    return
                time.sleep(0.05)
        trigger.write_text(label)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            rc = p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        reader.join(5)
        watcher.join(35)
        trigger.unlink(missing_ok=True)
        visible = stored = None
        for line in faults.read_text().splitlines():
            rec = json.loads(line)
            if rec["trigger"] == label:
                visible, stored = rec["visible"], rec["stored"]
        by = {}
        for e in events:
            by.setdefault(e.get("event"), []).append(e)
        rolled = by.get("rolled_back", [{}])[0].get("ts")
        rolling = by.get("rolling_back", [{}])[0].get("ts")
        summary = by.get("summary", [{}])[-1]
        r = {"run": i, "rc": rc, "visible": visible, "stored": stored, "fault_step": len(by.get("weights_applied", [])),
             "calls": summary.get("api_calls_by_operation")}
        if visible and rolled:
            r["delay_event"] = parse_ts(rolled) - visible
            r["delay_from_stored"] = parse_ts(rolled) - stored
            if rolling:
                r["visible_to_detecting_poll"] = parse_ts(rolling) - visible
                r["detecting_poll_to_rolled_back"] = parse_ts(rolled) - parse_ts(rolling)
        if visible and back_seen:
            r["delay_observed"] = back_seen[0] - visible
        w = self.weights(L)
        r["ok"] = rc == 3 and w.get(B) == 100 and w.get(G, 0) == 0 and "delay_event" in r
        log(f"deploy: fault run {i + 1}/{self.a.detect_runs}: exit {rc}, "
            f"fault visible -> rolled back {secs(r.get('delay_event'))} "
            f"(watcher saw 100/0 after {secs(r.get('delay_observed'))})")
        time.sleep(6)  # let the faulty datapoints leave the 5 s window
        return r

    def healthy_run(self, L: str) -> dict:
        self.dep_listener = L
        log("deploy: healthy gradual deployment 25,50,100 with 4 s bakes")
        t0 = time.perf_counter()
        p, events, reader = self.deploy_proc()
        rc = p.wait(120)
        reader.join(5)
        wall = time.perf_counter() - t0
        count = {}
        for e in events:
            count[e.get("event")] = count.get(e.get("event"), 0) + 1
        if rc != 0 or not any(e.get("event") == "summary" for e in events):
            sys.exit(f"bench: healthy deployment exited {rc}: {events[-3:]} {p.stderr.read()[-1000:]}")
        summary = [e for e in events if e.get("event") == "summary"][-1]
        calls = summary["api_calls_by_operation"]
        steps, polls = count.get("weights_applied", 0), count.get("gate_evaluated", 0)
        gmd = calls.get("cloudwatch:GetMetricData", 0)
        ml = calls.get("elasticloadbalancing:ModifyListener", 0)
        dl = calls.get("elasticloadbalancing:DescribeListeners", 0)
        return {"rc": rc, "wall_seconds": wall, "steps": steps, "polls": polls, "events": count,
                "api_calls_by_operation": calls, "api_calls": summary.get("api_calls"),
                "get_metric_data_per_poll": gmd / polls if polls else float("nan"),
                "modify_listener_per_step": ml / steps if steps else float("nan"),
                "describe_listeners_per_step": (dl - 1) / steps if steps else float("nan")}

    # ---------- 3. fleet ----------
    def fleet(self) -> None:
        n = self.a.fleet_size
        # 50 listeners per load balancer at most, as on AWS (2 load balancers for 100, 20 for 1,000).
        count = max(2, -(-n // 50))
        stacks = [self.create_stack(f"fleet{chr(97 + i)}" if i < 26 else f"fleet{i}") for i in range(count)]
        arns, groups = [], {}
        per = (n + len(stacks) - 1) // len(stacks)
        log(f"fleet: creating {n} listeners ({per} per load balancer)")
        for s in stacks:
            for j in range(min(per, n - len(arns))):
                l = self.elb.create_listener(
                    LoadBalancerArn=s["LoadBalancerArn"], Protocol="HTTP", Port=10000 + j,
                    DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                        {"TargetGroupArn": s["BlueTargetGroupArn"], "Weight": 100},
                        {"TargetGroupArn": s["GreenTargetGroupArn"], "Weight": 0}]}}])["Listeners"][0]
                arns.append(l["ListenerArn"])
                groups[l["ListenerArn"]] = (s["BlueTargetGroupArn"], s["GreenTargetGroupArn"])
        listeners = self.out / "fleet-listeners.txt"
        listeners.write_text("\n".join(arns) + "\n")
        port = self.a.proxy_port
        proxy = self.start_proxy(port, self.a.writes_per_second)
        try:
            env = {**self.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
            log(f"fleet: {n} deployments, {self.a.fleet_concurrency or n} in flight (steps {self.a.fleet_steps}, no bake) through the proxy "
                f"at {self.a.writes_per_second:g} ELB writes/s")
            timebin = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
            t, p = self.run([*timebin, self.a.fleet, "--listeners", listeners, "--steps", self.a.fleet_steps,
                             "--target", "green",
                             *(["--concurrency", str(self.a.fleet_concurrency)] if self.a.fleet_concurrency else [])],
                            env=env, timeout=3600)
            peak_kb = None
            if timebin:
                try:
                    peak_kb = int(p.stderr.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    pass
            (self.out / "fleet-stdout.json").write_text(p.stdout)
            # A proxy still busy with a large fleet's last connections may take a while to answer.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/__proxy/stats", timeout=120) as r:
                pstats = json.load(r)
        finally:
            final = self.stop_proxy(proxy)
        log(f"fleet: proxy final counters: {final.strip()[:300]}")
        try:
            out = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            sys.exit(f"bench: fleet printed no result (exit {p.returncode}): {p.stderr[-2000:]}")
        wrong = []
        for arn in arns:
            blue, green = groups[arn]
            w = self.weights(arn)
            if w.get(green) != 100 or w.get(blue, 0) != 0:
                wrong.append(arn)
        tags_wrong = 0
        for k in range(0, len(arns), 20):
            for d in self.elb.describe_tags(ResourceArns=arns[k:k + 20])["TagDescriptions"]:
                tags = {t["Key"]: t["Value"] for t in d["Tags"]}
                if tags.get("albflip:stable") != "green" or tags.get("albflip:state") != "complete":
                    tags_wrong += 1
        writes = pstats["writes_forwarded"]
        floor = writes / self.a.writes_per_second
        res = {"deployments": n, "steps": self.a.fleet_steps, "writes_per_second": self.a.writes_per_second,
               "process_wall_seconds": t, "result": out, "proxy": pstats, "wrong_weights": len(wrong),
               "wrong_tags": tags_wrong, "write_floor_seconds": floor, "peak_rss_kb": peak_kb,
               "floor_efficiency": floor / out["wall_seconds"] if out.get("wall_seconds") else None}
        self.results["fleet"] = res
        self.check(f"fleet: failed deployments ({out.get('concurrency')} in flight)", "0", f"{out.get('failed')} of {out.get('deployments')}",
                   out.get("failed") == 0 and out.get("deployments") == n)
        self.check("fleet: listeners verified 0/100 on green, tagged stable=green",
                   f"{n} of {n}", f"{n - max(len(wrong), tags_wrong)} of {n}", not wrong and not tags_wrong)
        eff = res["floor_efficiency"] or 0.0
        self.check("fleet: write floor ÷ wall time", "≥ 85 %", f"{eff * 100:.0f} %", eff >= 0.85, hard=False)

    # ---------- micro ----------
    def micro(self) -> None:
        log("micro: planning and gate evaluation, 10,000 each")
        outs = []
        for _ in range(5):
            _, p = self.run([self.a.fleet, "--micro", "10000"])
            outs.append(json.loads(p.stdout))
        self.results["micro"] = {
            "n": 10000,
            "plan_ns_per_route": statistics.median(o["plan_ns_per_route"] for o in outs),
            "gate_ns_per_evaluation": statistics.median(o["gate_ns_per_evaluation"] for o in outs),
            "plan_total_ms": statistics.median(o["plan_total_ms"] for o in outs),
        }

    # ---------- machine ----------
    def machine(self) -> None:
        def sh(cmd: str) -> str:
            try:
                return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
            except Exception as e:  # noqa: BLE001
                return f"? ({e})"
        import moto  # noqa: PLC0415
        self.results["machine"] = {
            "nproc": sh("nproc"),
            "cpu": sh("lscpu | sed -n 's/^Model name: *//p' | head -1"),
            "hypervisor": sh("lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1"),
            "memory": sh("free -h | awk '/^Mem:/ {print $2}'"),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "moto": moto.__version__,
            "boto3": boto3.__version__,
            "awscli": sh("aws --version 2>&1"),
            "rustc": sh("rustc --version"),
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "source": (self.out / "source.txt").read_text().strip() if (self.out / "source.txt").exists() else "?",
        }

    # ---------- report ----------
    @staticmethod
    def rollback_report(rb: dict) -> list:
        fl, dl = rb["floor"], rb["delayed"]
        lines = [f"### 1. Emergency rollback (median of {rb['runs']} runs; 50/50 → 100/0 each run)", "",
                 f"| method | median | min | max | AWS CLI ÷ this | peak RSS | {dl['delay_ms']:g} ms proxy: median "
                 "| round trips: (time with the delay − time through the proxy without) ÷ delay / proxy's chain | API calls |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for name, x in rb["methods"].items():
            c = x["api_calls"]
            d = dl["methods"][name]
            detail = ", ".join(f"{k.split(':')[1]} {v}" for k, v in c.items())
            rss = f"{x['peak_rss_kb'] / 1024:.1f} MiB" if x.get("peak_rss_kb") else "–"
            lines.append(f"| {name} | {ms(x['median'])} | {ms(x['min'])} | {ms(x['max'])} | "
                         f"{x['cli_over_this']:.1f}× | {rss} | {ms(d['median'])} | {d['round_trips']:.2f} / {d['proxy_round_trips']} | "
                         f"{sum(c.values())} ({detail}) |")
        start = fl["process_start"]["median"]
        lines += ["", "| floor | process start | rounds (raw HTTP, calls of a round at once) | total |",
                  "|---|---|---|---|"]
        for name in ("lockstep", "single-route", "single-route, sticky-safe"):
            f = fl.get(name)
            if f is None:
                continue
            lines.append(f"| {name}: {f['round_trips']} round trips, {f['calls']} calls | {ms(start)} | "
                         f"{ms(f['rounds']['median'])} | {ms(f['floor'])} |")
        fc = rb.get("fixed_cost")
        if fc:
            lines += ["", f"strace of a lockstep rollback: {fc['cert_files_opened']} certificate files opened, "
                      f"{fc['other_connections']} connections to anything but the endpoint, "
                      f"{fc['files_opened']} files opened in all."]
        return lines + [""]

    def report(self) -> str:
        r = self.results
        m = r.get("machine", {})
        lines = [f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}, {m.get('hypervisor') or 'bare metal'}), "
                 f"{m.get('memory')} RAM, Linux {m.get('kernel')}; moto {m.get('moto')}, boto3 {m.get('boto3')}, "
                 f"{m.get('awscli')}, {m.get('rustc')}; {m.get('date')}",
                 f"albflip built from: {m.get('source')}", ""]
        if "rollback" in r:
            lines += self.rollback_report(r["rollback"])
        if "deploy" in r:
            d = r["deploy"]
            h = d["healthy"]
            c = h["api_calls_by_operation"]
            lines += ["### 2. Gradual deployment 25 → 50 → 100, 4 s bakes, 1 s polls", "",
                      f"Healthy run: exit {h['rc']}, {h['wall_seconds']:.1f} s, {h['steps']} steps, "
                      f"{h['polls']} polls. API calls: " + ", ".join(f"{k} {v}" for k, v in c.items()), "",
                      "| per | measured | target |", "|---|---|---|",
                      f"| poll: GetMetricData | {h['get_metric_data_per_poll']:.2f} | 1 |",
                      f"| step: ModifyListener | {h['modify_listener_per_step']:.2f} | 1 |",
                      f"| step: DescribeListeners (drift check + read-back) | {h['describe_listeners_per_step']:.2f} | 1 (read-back) |",
                      f"| step: AddTags (deployment record; whole run: {c.get('elasticloadbalancing:AddTags', 0)}) | "
                      f"{c.get('elasticloadbalancing:AddTags', 0) / h['steps']:.2f} | – |",
                      "",
                      f"Detection delay over {len(d['fault_runs'])} fault runs (fault visible in CloudWatch → "
                      "traffic verified back on blue):", "",
                      "| measure | median | min | max |", "|---|---|---|---|"]
            for key, label in (("detection_delay", "fault visible → `rolled_back` event"),
                               ("visible_to_detecting_poll", "… of which: waiting for the next poll"),
                               ("detecting_poll_to_rolled_back", "… of which: GetMetricData + ModifyListener"),
                               ("detection_delay_observed", "fault visible → watcher reads 100/0 (50 ms polling)"),
                               ("delay_from_stored", "PutMetricData of the fault returned → `rolled_back` event")):
                s = d[key]
                lines.append(f"| {label} | {ms(s['median'])} | {ms(s['min'])} | {ms(s['max'])} |")
            lines.append("")
        if "fleet" in r:
            f = r["fleet"]
            o = f["result"]
            px = f["proxy"]
            ds = o["deployment_seconds"]
            lines += [f"### 3. Fleet: {f['deployments']} listeners, one process, {o['concurrency']} in flight, "
                      f"steps {f['steps']}, no bake, "
                      f"ELB writes throttled at {f['writes_per_second']:g}/s", "",
                      "| measure | value |", "|---|---|",
                      f"| wall time (all deployments) | {o['wall_seconds']:.1f} s |",
                      f"| write floor (successful writes ÷ {f['writes_per_second']:g}/s) | {f['write_floor_seconds']:.1f} s |",
                      f"| floor ÷ wall | {f['floor_efficiency'] * 100:.0f} % |",
                      f"| per deployment: median / max | {ds['median']:.1f} s / {ds['max']:.1f} s |",
                      f"| completed / failed | {o['completed']} / {o['failed']} |",
                      f"| API calls counted by albflip (incl. write retries) | {o['api_calls_total']}: "
                      + ", ".join(f"{k.split(':')[1]} {v}" for k, v in o["api_calls_by_operation"].items()) + " |",
                      f"| HTTP requests forwarded by the proxy / answered Throttling | {px['forwarded_total']} / {px['throttled_total']} |",
                      f"| writes forwarded (succeeded) | {px['writes_forwarded']} ({px['writes_forwarded'] / f['deployments']:.1f} per deployment) |",
                      f"| listeners verified on green / tagged | {f['deployments'] - f['wrong_weights']} / {f['deployments'] - f['wrong_tags']} |",
                      f"| peak RSS of the fleet process | {f['peak_rss_kb'] / 1024:.1f} MiB |" if f.get("peak_rss_kb") else "| peak RSS | not measured |",
                      ""]
        if "startup" in r:
            lines += ["### 4. Start-up", "", "| command | median | min | max | peak RSS |", "|---|---|---|---|---|"]
            for name, x in r["startup"].items():
                lines.append(f"| {name} | {ms(x['median'])} | {ms(x['min'])} | {ms(x['max'])} | "
                             f"{x['peak_rss_kb'] / 1024:.1f} MiB |")
            lines.append("")
        if "micro" in r:
            mi = r["micro"]
            lines += ["### Pure hot paths (std::time::Instant, median of 5 × 10,000)", "",
                      f"- planning one route's deployment (parse steps + plan): {mi['plan_ns_per_route']:.0f} ns; "
                      f"a fleet of 10,000 routes: {mi['plan_total_ms']:.2f} ms",
                      f"- evaluating all gates on one poll's observation: {mi['gate_ns_per_evaluation']:.0f} ns", ""]
        lines += ["### Checks", "", "| check | target | measured | status |", "|---|---|---|---|"]
        for c in self.checks:
            lines.append(f"| {c['name']} | {c['target']} | {c['value']} | {c['status']} |")
        return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--proxy-port", type=int, required=True)
    p.add_argument("--albflip", required=True)
    p.add_argument("--fleet", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--only", default="startup,rollback,deploy,fleet,micro")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--detect-runs", type=int, default=10)
    p.add_argument("--fleet-size", type=int, default=100)
    p.add_argument("--fleet-steps", default="50,100")
    p.add_argument("--fleet-concurrency", type=int, default=0,
                   help="deployments in flight at once in the fleet run (default: all of them)")
    p.add_argument("--writes-per-second", type=float, default=3.0)
    p.add_argument("--delay-ms", type=float, default=50.0,
                   help="the delaying proxy's hold on every request, for counting round trips")
    p.add_argument("--delay-runs", type=int, default=5)
    a = p.parse_args()
    a.albflip, a.fleet = str(Path(a.albflip).resolve()), str(Path(a.fleet).resolve())
    if shutil.which("aws") is None and "rollback" in a.only:
        sys.exit("bench: the AWS CLI (`aws`) is not on PATH; it is one of the rollback baselines")
    only = set(a.only.split(","))
    b = Bench(a)
    b.machine()
    rb = None
    if only & {"startup", "rollback"}:
        rb = b.create_stack("rb")
    if "startup" in only:
        b.startup(rb["ListenerArn"])
    if "rollback" in only:
        b.rollback(rb)
    if "deploy" in only:
        b.deploy(b.create_stack("dep"))
    if "fleet" in only:
        b.fleet()
    if "micro" in only:
        b.micro()
    report = b.report()
    b.results["checks"] = b.checks
    (b.out / "results.json").write_text(json.dumps(b.results, indent=2, default=str))
    (b.out / "summary.md").write_text(report)
    print(report)
    failed = [c for c in b.checks if c["hard"] and not c["ok"]]
    if failed:
        log("FAILED: " + "; ".join(f"{c['name']}: {c['value']} (target {c['target']})" for c in failed))
        sys.exit(1)
    log("all checked targets met (see the table for reported ones)")


if __name__ == "__main__":
    main()
