#!/usr/bin/python3
"""Syscalls per request through xdsgate, a figure the machine's load does not move.

Starts the benchmark's origin and one xdsgate (one worker, the same
configuration as run.py), then for each workload attaches `strace -f -c` to
every thread of xdsgate, runs h2load with a fixed number of requests, detaches
and prints the calls per request by syscall. Every process is stopped by pid.

    /usr/bin/python3 tests/bench/peers/syscalls.py --build build [-n 20000]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the benchmark's set-up: origin, stub, xdsgate)

WORKLOADS = [
    # name, port key, scheme, h2load arguments (beside -n)
    ("h1 -c10", "H1", "http", ["--h1", "-c10"]),
    ("h2c -c10 -m10", "H2", "http", ["-c10", "-m10"]),
    ("tls h1 -c10", "TLS_EC", "https", ["--h1", "-c10"]),
    ("tls h2 -c10 -m10", "TLS_EC", "https", ["-c10", "-m10"]),
]


def strace_counts(path):
    """{syscall: calls} from strace -c output."""
    counts = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
    return counts


def measure(b, peer, name, url, args, n):
    out = os.path.join(b.run_dir, "strace-%s.txt" % name.replace(" ", "_"))
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(peer.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached to every thread
    try:
        r = subprocess.run(["h2load", "-n", str(n), "-t1"] + args + [url], capture_output=True, text=True,
                           timeout=300)
        m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", r.stdout)
        done = int(m.group(2)) if m else 0
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    counts = strace_counts(out)
    return done, counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=20000)
    a = ap.parse_args()
    os.environ.setdefault("BENCH_IDLE_CONNS", "100")
    b = run.Bench(a.build, None)
    b.peer_names = ["xdsgate"]
    try:
        b.prepare()
        peer = b.start_peers(1, None)[0]
        for name, port, scheme, args in WORKLOADS:
            url = peer.url(run.SMALL_PATH, port, scheme)
            subprocess.run(["h2load", "-n", "2000"] + args + [url], capture_output=True,
                           timeout=120)  # warm: upstream connections open
            done, counts = measure(b, peer, name, url, args, a.n)
            if done == 0:
                print("%s: no request succeeded" % name)
                continue
            total = sum(counts.values())
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:6]
            print("%-14s %6d req  %.2f syscalls/req  %s" % (
                name, done, total / done, "  ".join("%s %.2f" % (k, v / done) for k, v in top)))
        b.stop_peers([peer])
        shutil.rmtree(b.run_dir, ignore_errors=True)
    finally:
        b.procs.stop_all()


if __name__ == "__main__":
    main()
