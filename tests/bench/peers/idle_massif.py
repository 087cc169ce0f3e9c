#!/usr/bin/python3
"""Heap bytes per idle connection by allocation site, figures the machine's
load does not move.

Starts the benchmark's origin and one xdsgate (one worker, the configuration
of run.py) under `valgrind --tool=massif --vgdb=yes`, makes one request,
takes a detailed heap snapshot, opens N idle connections with idle.py (one
request each, as run.py's memory test does), takes another and prints the
difference per allocating function (the caller of malloc, calloc or
realloc), divided by N, with malloc's own overhead (massif's "extra": chunk
headers and rounding) as a line of its own. Every process is stopped by pid;
the snapshots stay in the printed directory for ms_print-style reading.

    /usr/bin/python3 tests/bench/peers/idle_massif.py --build build [-n 1000] [--kind h1|h2]
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind  # noqa: E402
import run  # noqa: E402


def start_xdsgate(b):
    """callgrind.start_xdsgate under massif, which vgdb can ask for a
    snapshot; returns (process, ports)."""
    return callgrind.start_xdsgate(b, tool=["--tool=massif", "--vgdb=yes", "--threshold=0.0", "--depth=8",
                                            "--massif-out-file=" + os.path.join(b.run_dir, "massif.out.%p")])


def snapshot(pid, path):
    subprocess.run(["vgdb", "--pid=%d" % pid, "detailed_snapshot", path], check=True, capture_output=True,
                   timeout=120)
    return parse(path)


def parse(path):
    """({allocating function: bytes}, heap bytes, extra bytes) from a detailed
    snapshot: the tree's first level below the root is the caller of the
    allocation function."""
    sites, heap, extra = collections.Counter(), 0, 0
    with open(path) as f:
        for line in f:
            if line.startswith("mem_heap_B="):
                heap = int(line.split("=")[1])
            elif line.startswith("mem_heap_extra_B="):
                extra = int(line.split("=")[1])
            m = re.match(r"^ n\d+: (\d+) (?:0x[0-9A-F]+: )?(.*)$", line)
            if m:
                fn = re.sub(r" \(in [^)]*\)$", "", m.group(2))
                sites[fn] += int(m.group(1))
    return sites, heap, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--kind", default="h1", choices=("h1", "h2"))
    a = ap.parse_args()
    os.environ.setdefault("BENCH_IDLE_CONNS", str(a.n))
    b = run.Bench(a.build, None)
    try:
        xg, s = start_xdsgate(b)
        port = s["H1" if a.kind == "h1" else "H2"]
        if a.kind == "h1":
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=30).read()
        time.sleep(1.0)
        before, heap0, extra0 = snapshot(xg.pid, os.path.join(b.run_dir, "massif.before"))
        h = b.procs.start([sys.executable, os.path.join(run.HERE, "idle.py"), str(port), str(a.n), a.kind],
                          "idle", None, stdin=subprocess.PIPE)
        b.wait_idle(h, a.n)
        time.sleep(1.0)
        after, heap1, extra1 = snapshot(xg.pid, os.path.join(b.run_dir, "massif.after"))
        print("%d idle %s connections: heap %+.1f B/conn, malloc overhead %+.1f B/conn, total %+.1f B/conn"
              % (a.n, a.kind, (heap1 - heap0) / a.n, (extra1 - extra0) / a.n,
                 (heap1 + extra1 - heap0 - extra0) / a.n))
        diff = {k: after[k] - before[k] for k in set(after) | set(before)}
        for fn, d in sorted(diff.items(), key=lambda kv: -abs(kv[1])):
            if abs(d) / a.n >= 1.0:
                print("  %+8.1f B/conn  %s" % (d / a.n, fn[:150]))
        h.stdin.close()
        print("snapshots: %s (massif.before, massif.after)" % b.run_dir)
    finally:
        b.procs.stop_all()


if __name__ == "__main__":
    main()
