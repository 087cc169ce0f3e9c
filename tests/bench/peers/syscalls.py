#!/usr/bin/python3
"""Syscalls per request through xdsgate, a figure the machine's load does not move.

Starts the benchmark's origin and one xdsgate (one worker, the same
configuration as run.py), then for each workload attaches `strace -f -c` to
every thread of xdsgate, runs h2load with a fixed number of requests, detaches
and prints the calls per request by syscall. Every process is stopped by pid.

    /usr/bin/python3 tests/bench/peers/syscalls.py --build build [-n 20000]
    /usr/bin/python3 tests/bench/peers/syscalls.py --build build --path /bulk/1m.bin -n 500 --workload h1

With --path (one of the origin's bulk files) each request fetches that body,
and the line also says how many body bytes each recvfrom and sendmsg moved on
average (every body byte is read once from the origin and written once to the
client; the request's own reads and writes count too, so the figure is a
slight underestimate).
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


def minor_faults(pid):
    """Minor page faults of every thread of pid so far (/proc/PID/stat field 10)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def measure(b, peer, name, url, args, n):
    out = os.path.join(b.run_dir, "strace-%s.txt" % name.replace(" ", "_"))
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(peer.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached to every thread
    faults = minor_faults(peer.proc.pid)
    try:
        r = subprocess.run(["h2load", "-n", str(n), "-t1"] + args + [url], capture_output=True, text=True,
                           timeout=300)
        m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", r.stdout)
        done = int(m.group(2)) if m else 0
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    faults = minor_faults(peer.proc.pid) - faults
    counts = strace_counts(out)
    return done, counts, faults


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--path", default=run.SMALL_PATH, help="request path, e.g. /bulk/1m.bin")
    ap.add_argument("--workload", action="append", help="only these (h1, h2c, tls h1, tls h2); repeatable")
    ap.add_argument("-c", type=int, default=10, help="client connections")
    a = ap.parse_args()
    body = next((size for path, size in run.BULK.values() if path == a.path), 0)
    os.environ.setdefault("BENCH_IDLE_CONNS", "100")
    b = run.Bench(a.build, None)
    b.peer_names = ["xdsgate"]
    try:
        b.prepare()
        peer = b.start_peers(1, None)[0]
        for name, port, scheme, args in WORKLOADS:
            if a.workload and name.split(" -")[0] not in a.workload:
                continue
            args = [x if x != "-c10" else "-c%d" % a.c for x in args]
            url = peer.url(a.path, port, scheme)
            subprocess.run(["h2load", "-n", str(min(2000, a.n))] + args + [url], capture_output=True,
                           timeout=120)  # warm: upstream connections open
            done, counts, faults = measure(b, peer, name, url, args, a.n)
            if done == 0:
                print("%s: no request succeeded" % name)
                continue
            total = sum(counts.values())
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:6]
            per_call = ""
            if body:
                per_call = "  body B/recvfrom %.0f  B/sendmsg %.0f" % (
                    done * body / max(counts.get("recvfrom", 0), 1), done * body / max(counts.get("sendmsg", 0), 1))
            print("%-14s %6d req  %.2f syscalls/req  %s%s  minor faults/req %.2f" % (
                " ".join(args), done, total / done, "  ".join("%s %.2f" % (k, v / done) for k, v in top), per_call,
                faults / done))
        b.stop_peers([peer])
        shutil.rmtree(b.run_dir, ignore_errors=True)
    finally:
        b.procs.stop_all()


if __name__ == "__main__":
    main()
