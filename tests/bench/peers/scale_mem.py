#!/usr/bin/python3
"""Memory of xdsgate (one worker) with the benchmark's scale configuration
(scale.py: 10,000 routes, 1,000 clusters), figures that, unlike PSS, other
processes on the machine do not move: anonymous memory and RSS from
/proc/PID/smaps_rollup (PSS too), and VmHWM, read after 200 requests and
2.5 s without xDS updates (xdsgate trims its heap after 1 s). The origin is a
small Python server; the stub serves the snapshot. Builds are measured
interleaved, REPS times (default 2); every process is stopped by pid.

    /usr/bin/python3 tests/bench/peers/scale_mem.py build-a [build-b ...]
"""
import http.server, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass

def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0]) / 1024
    return out

def run(build, rundir):
    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    h1, stub_port, admin = free_port(), free_port(), free_port()
    hcm = {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "b", "codec_type": "HTTP1",
        "rds": {"route_config_name": "bench", "config_source": {"ads": {}, "resource_api_version": "V3"}},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}
    snap = os.path.join(rundir, "scale.yaml")
    with open(snap, "w") as f:
        f.write(scale.xdsgate_yaml(h1, origin.server_address[1], json.dumps(hcm)))
    stub = subprocess.Popen([build + "/control-plane-stub", "--port", str(stub_port), "--snapshot", snap],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    xg = subprocess.Popen([build + "/xdsgate", "--xds-server", "127.0.0.1:%d" % stub_port, "--node-id", "bench",
                           "--admin", "127.0.0.1:%d" % admin, "--concurrency", "1", "--log-level", "warn"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                req = urllib.request.Request("http://127.0.0.1:%d%s" % (h1, scale.PATH), headers={"Host": scale.HOST})
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        for _ in range(200):
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (h1, scale.PATH), headers={"Host": scale.HOST})
            urllib.request.urlopen(req, timeout=5).read()
        time.sleep(2.5)
        r = rollup(xg.pid)
        with open("/proc/%d/status" % xg.pid) as f:
            hwm = [l.split()[1] for l in f if l.startswith("VmHWM")][0]
        return {"pss": r["Pss"], "rss": r["Rss"], "anon": r["Anonymous"], "pss_anon": r.get("Pss_Anon", 0),
                "hwm": int(hwm) / 1024}
    finally:
        for p in (xg, stub):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill(); p.wait()
        origin.shutdown()

if __name__ == "__main__":
    d = tempfile.mkdtemp(prefix="xdsgate-scale-mem-")
    reps = int(os.environ.get("REPS", "2"))
    for i in range(reps):
        for b in sys.argv[1:]:
            r = run(os.path.abspath(b), d)
            print("%-40s PSS %.2f  RSS %.2f  Anon %.2f  PssAnon %.2f  HWM %.1f MB" % (b, r["pss"], r["rss"], r["anon"], r["pss_anon"], r["hwm"]), flush=True)
    shutil.rmtree(d, ignore_errors=True)
