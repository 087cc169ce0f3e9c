#!/usr/bin/python3
"""User-space instructions and allocations per full TLS handshake through
xdsgate, figures the machine's load does not move.

Starts the benchmark's origin and one xdsgate (one worker, the configuration
of run.py: ECDSA P-256 and RSA-2048 listeners) under `valgrind
--tool=callgrind`, warms each listener up, zeroes the counters, runs
`openssl s_time -new` (a new TLS 1.3 session per connection, no resumption,
no request: the side-by-side run's handshake figure) for a fixed time and
dumps them. Prints per handshake: instructions (every thread, kernel time not
included), calls to malloc/calloc/realloc/free, and the functions with the
most instructions of their own. Every process is stopped by pid; the dumps
stay in the printed directory.

    /usr/bin/python3 tests/bench/peers/tls_callgrind.py --build build [--seconds 20] [--top 25]
"""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind  # noqa: E402  (xdsgate under callgrind with the benchmark's set-up)
import run  # noqa: E402  (the benchmark's set-up: origin, certificates, snapshot)

def tls_ctx(run_dir, kind, no_resumption):
    ctx = json.loads(run.tls_ctx(run_dir, kind))
    if no_resumption:
        ctx["typed_config"].update(disable_stateless_session_resumption=True,
                                   disable_stateful_session_resumption=True)
    return json.dumps(ctx)


def s_time(port, secs):
    r = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new", "-time", str(secs)],
                       capture_output=True, text=True, timeout=secs + 120)
    m = re.search(r"(\d+) connections in [\d.]+s", r.stdout)
    return int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-resumption", action="store_true",
                    help="tickets and the session cache off, as the nginx and HAProxy peers run")
    a = ap.parse_args()
    os.environ.setdefault("BENCH_IDLE_CONNS", "100")
    b = run.Bench(a.build, None)
    try:
        xg, s = callgrind.start_xdsgate(b, tls_ctx(b.run_dir, "ec", a.no_resumption),
                                        tls_ctx(b.run_dir, "rsa", a.no_resumption))
        for name, port in (("ecdsa", "TLS_EC"), ("rsa", "TLS_RSA")):
            s_time(s[port], 2)
            subprocess.run(["callgrind_control", "-z", str(xg.pid)], check=True, capture_output=True)
            n = s_time(s[port], a.seconds)
            subprocess.run(["callgrind_control", "-d", name, str(xg.pid)], check=True, capture_output=True)
            if n == 0:
                print("%s: no handshake completed" % name)
                continue
            dump = max((os.path.join(b.run_dir, f) for f in os.listdir(b.run_dir) if f.startswith("callgrind.out.")),
                       key=os.path.getmtime)
            _, self_ir, calls = callgrind.parse_dump(dump)
            allocs = {k: callgrind.libc_calls(calls, k) for k in ("malloc", "calloc", "realloc", "free")}
            print("%-6s %5d handshakes  %8.0f Ir/handshake  %s" % (
                name, n, sum(self_ir.values()) / n, "  ".join("%s %.1f" % (k, v / n) for k, v in allocs.items())))
            for fn, ir in self_ir.most_common(a.top):
                print("    %8.0f  %s" % (ir / n, fn))
        print("dumps: %s" % b.run_dir)
    finally:
        b.procs.stop_all()


if __name__ == "__main__":
    main()
