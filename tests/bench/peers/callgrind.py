#!/usr/bin/python3
"""User-space instructions and allocations per request through xdsgate, figures
the machine's load does not move.

Starts the benchmark's origin and one xdsgate (one worker, the configuration
of run.py) under `valgrind --tool=callgrind`, warms it up, then for each
workload zeroes the counters, runs h2load with a fixed number of requests and
dumps them (callgrind_control). Prints per request: instructions (Ir, every
thread of the process, kernel time not included) and calls to malloc, calloc,
realloc and a few libc functions the request path should not need. Every
process is stopped by pid; the dumps stay in the printed directory for
callgrind_annotate.

    /usr/bin/python3 tests/bench/peers/callgrind.py --build build [-n 20000]
    /usr/bin/python3 tests/bench/peers/callgrind.py --build build --path /bulk/1m.bin -n 200 -c 4 --workload h1

With --path (one of the origin's bulk files) each request fetches that body
and the line also gives the instructions per body byte.
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
import run  # noqa: E402  (the benchmark's set-up: origin, certificates, snapshot)

WORKLOADS = [
    # name, port key, h2load arguments (beside -n)
    ("h1", "H1", ["--h1", "-c10"]),
    ("h2c", "H2", ["-c10", "-m10"]),
]
# label, the function names counted (libc's variants: __strlen_avx2, ...)
CALLS = [("malloc", r"malloc"), ("calloc", r"calloc"), ("realloc", r"realloc"), ("free", r"free"),
         ("strlen", r"(__)?strlen(_\w+)?"), ("snprintf", r"v?snprintf"), ("printf_fp", r"__printf_fp"),
         ("inet_ntop", r"inet_ntop"), ("clock_gettime", r"(__)?clock_gettime"), ("getsockopt", r"getsockopt"),
         ("getsockname", r"getsockname")]


def parse_dump(path):
    """(total Ir, {function: self Ir}, {function: calls}) from a callgrind dump
    (names compressed as "(id) name"; a cost line after calls= is the call's
    inclusive cost, not the caller's own)."""
    names, self_ir, calls = {}, collections.Counter(), collections.Counter()
    total, fn, callee, pending = 0, None, None, None

    def name(tok):
        m = re.match(r"\((\d+)\)(?: (.*))?", tok)
        if not m:
            return tok
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?")

    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line.startswith("fn="):
                fn = name(line[3:].strip())
            elif line.startswith("cfn="):
                callee = name(line[4:].strip())
            elif line.startswith("calls="):
                pending = int(line[6:].split()[0])
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                if pending is not None:
                    calls[callee] += pending
                    pending = None
                else:
                    self_ir[fn] += int(parts[1])
    return total, self_ir, calls


def libc_calls(calls, names):
    """Calls to the functions whose names match names (callgrind's 'N suffixes of recursion levels aside)."""
    pat = re.compile(r"^(?:%s)(?:'\d+)?$" % names)
    return sum(v for k, v in calls.items() if pat.match(k))


def start_xdsgate(b, tls_ctx_ec=None, tls_ctx_rsa=None, tool=None):
    """Prepares b (origin, certificates), starts the stub with the benchmark's
    configuration (tls_ctx_*: other TLS contexts for the two TLS listeners) and
    one xdsgate under valgrind (tool: its arguments; callgrind by default, the
    dumps to b.run_dir as callgrind.out.<pid>); returns (xdsgate's process,
    the ports) once it is ready."""
    b.prepare()
    s = dict(b.subst)
    for k in ("H1", "H2", "TLS_EC", "TLS_RSA"):
        s[k] = run.free_port()
    s.update(HCM_HTTP1=run.hcm("HTTP1"), HCM_HTTP2=run.hcm("HTTP2"), HCM_AUTO=run.hcm("AUTO"),
             TLS_CTX_EC=tls_ctx_ec or run.tls_ctx(b.run_dir, "ec"),
             TLS_CTX_RSA=tls_ctx_rsa or run.tls_ctx(b.run_dir, "rsa"))
    snap = os.path.join(b.run_dir, "callgrind.yaml")
    with open(snap, "w") as f:
        f.write(run.fill("xdsgate.yaml.in", s))
    stub_port, admin = run.free_port(), run.free_port()
    stub = b.procs.start([b.binary("control-plane-stub"), "--port", str(stub_port), "--snapshot", snap], "stub")
    run.wait_port(stub_port, proc=stub, what="control-plane-stub")
    if tool is None:
        tool = ["--tool=callgrind", "--callgrind-out-file=" + os.path.join(b.run_dir, "callgrind.out.%p")]
    xg = b.procs.start(["valgrind"] + tool + [b.binary("xdsgate"), "--xds-server", "127.0.0.1:%d" % stub_port,
                                              "--node-id", "bench", "--admin", "127.0.0.1:%d" % admin,
                                              "--concurrency", "1", "--log-level", "warn"], "xdsgate")
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ready" % admin, timeout=5) as r:
                if r.status == 200:
                    return xg, s
        except OSError:
            pass
        if xg.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("xdsgate not ready under valgrind:\n" + b.procs.err_tail("xdsgate"))
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--path", default=run.SMALL_PATH, help="request path, e.g. /bulk/1m.bin")
    ap.add_argument("--workload", action="append", help="only these (h1, h2c); repeatable")
    ap.add_argument("-c", type=int, default=10, help="client connections")
    a = ap.parse_args()
    body = next((size for path, size in run.BULK.values() if path == a.path), 0)
    os.environ.setdefault("BENCH_IDLE_CONNS", "100")
    b = run.Bench(a.build, None)
    try:
        xg, s = start_xdsgate(b)
        for name, port, args in WORKLOADS:
            if a.workload and name not in a.workload:
                continue
            args = [x if x != "-c10" else "-c%d" % a.c for x in args]
            url = "http://127.0.0.1:%d%s" % (s[port], a.path)
            subprocess.run(["h2load", "-n", str(min(2000, a.n)), "-t1"] + args + [url], capture_output=True,
                           timeout=300)
            subprocess.run(["callgrind_control", "-z", str(xg.pid)], check=True, capture_output=True)
            r = subprocess.run(["h2load", "-n", str(a.n), "-t1"] + args + [url], capture_output=True, text=True,
                               timeout=900)
            subprocess.run(["callgrind_control", "-d", name, str(xg.pid)], check=True, capture_output=True)
            m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", r.stdout)
            done = int(m.group(1)) if m else 0
            if done == 0:
                print("%s: no request succeeded" % name)
                continue
            dumps = sorted((p for p in os.listdir(b.run_dir) if p.startswith("callgrind.out.")),
                           key=lambda p: os.path.getmtime(os.path.join(b.run_dir, p)))
            total, _, calls = parse_dump(os.path.join(b.run_dir, dumps[-1]))
            per_byte = "  %.3f Ir/body byte" % (total / (done * body)) if body else ""
            print("%-4s %6d req  %7.0f Ir/req%s  %s" % (name, done, total / done, per_byte, "  ".join(
                "%s %.2f" % (label, libc_calls(calls, names) / done) for label, names in CALLS)), flush=True)
        print("dumps: %s (callgrind_annotate --inclusive=yes FILE)" % b.run_dir)
    finally:
        b.procs.stop_all()


if __name__ == "__main__":
    main()
