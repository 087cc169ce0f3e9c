#!/usr/bin/python3
"""Instructions per config apply in xdsgate, a figure the machine's load does
not move.

Starts control-plane-stub with the apply test's 10,000-route / 1,000-cluster
snapshot (scale.py, apply.py's variant 0) and one xdsgate under `valgrind
--tool=callgrind`, collecting only inside the xds thread's response handler
and the workers' snapshot swap (--toggle-collect on_response, on_apply). Once
the first configuration is in, the counters are dumped and zeroed; then each
apply rewrites the snapshot (apply.py's variant i: every route and every
cluster changed), SIGHUPs the stub, waits for xdsgate's "active on all
workers" lines and dumps again. Prints the instructions of each apply; the
dumps stay in the printed directory for callgrind_annotate. Every process is
stopped by pid.

    /usr/bin/python3 tests/bench/peers/apply_callgrind.py --build build [-n 2]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apply as apply_test  # noqa: E402
import run  # noqa: E402  (free ports, the HTTP connection manager, Procs)
import scale  # noqa: E402


def dump(pid):
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True, timeout=120)


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("-n", type=int, default=2, help="applies")
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="xdsgate-apply-cg-")
    procs = run.Procs(d)
    h1, stub_port, admin = run.free_port(), run.free_port(), run.free_port()
    base = scale.xdsgate_yaml(h1, run.free_port(), run.hcm("HTTP1"))  # no origin: only the config path runs
    snap = os.path.join(d, "snapshot.yaml")

    def write(i):
        with open(snap + ".tmp", "w") as f:
            f.write(apply_test.xdsgate_yaml(base, i))
        os.rename(snap + ".tmp", snap)

    write(0)
    try:
        stub = procs.start([os.path.join(args.build, "control-plane-stub"), "--port", str(stub_port),
                            "--snapshot", snap], "stub")
        run.wait_port(stub_port, proc=stub, what="control-plane-stub")
        xg = procs.start(["valgrind", "--tool=callgrind", "--toggle-collect=on_response", "--toggle-collect=on_apply",
                          "--callgrind-out-file=" + os.path.join(d, "callgrind.out"),
                          os.path.join(args.build, "xdsgate"), "--xds-server", "127.0.0.1:%d" % stub_port,
                          "--node-id", "bench", "--admin", "127.0.0.1:%d" % admin, "--concurrency", "1",
                          "--log-level", "info"], "xdsgate")
        err = os.path.join(d, "xdsgate.err")

        def wait_lines(since, count, what):
            deadline = time.time() + 300
            while len(apply_test.xdsgate_active(err, since)) < count:
                if time.time() > deadline or xg.poll() is not None:
                    raise RuntimeError("%s: no 'active on all workers' line:\n%s" % (what, procs.err_tail("xdsgate")))
                time.sleep(0.2)

        wait_lines(0, 1, "first configuration")
        time.sleep(5)  # everything of the first configuration in (valgrind is slow)
        dump(xg.pid)
        for i in range(1, args.n + 1):
            write(i)
            t0 = time.time()
            stub.send_signal(signal.SIGHUP)
            wait_lines(t0, 2, "apply %d" % i)  # RDS and CDS: one generation each
            time.sleep(2)
            dump(xg.pid)
        dumps = sorted((f for f in os.listdir(d) if re.match(r"callgrind\.out\.\d+$", f)),
                       key=lambda f: int(f.rsplit(".", 1)[1]))
        for i, f in enumerate(dumps[1:], 1):
            print("apply %d: %s instructions (on_response + on_apply)" % (i, format(total_ir(os.path.join(d, f)), ",")))
        print("dumps: %s (callgrind_annotate --inclusive=yes FILE)" % d)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
