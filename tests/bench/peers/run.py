#!/usr/bin/env python3
"""make bench, second half: xdsgate side by side with nginx and HAProxy.

One origin (Debian nginx, one worker: a short body on one port, 64 KiB and
1 MiB files on another) and three proxies in front of it with the same routes
and one worker each (then two): xdsgate configured by control-plane-stub,
nginx and HAProxy (configs from the templates beside this file). Every
measurement runs the peers interleaved (xdsgate nginx haproxy, nginx haproxy xdsgate, ...) for
BENCH_REPS repetitions and reports medians and the ratios xdsgate/nginx and
xdsgate/HAProxy. Proxy CPU is user+sys from /proc/PID/stat of every process
of the proxy (nginx's master and workers, all of xdsgate's threads), read
before and after each load run. Everything listens on 127.0.0.1; every
process started here is stopped by pid on the way out.

Knobs (environment): BENCH_REPS (5), BENCH_SECONDS (4) per load run,
BENCH_CONNS (50) wrk connections, BENCH_H2_CLIENTS (10) x BENCH_H2_STREAMS
(10) for h2load, BENCH_LOAD (0.5) paced load as a fraction of the slowest
peer's saturated HTTP/1.1 rate, BENCH_IDLE_CONNS (5000), BENCH_TESTS (all of
h1,h2,latency,bulk,tls,scale,apply,mem,workers2), BENCH_APPLIES (20),
BENCH_APPLY_REPS (1) and BENCH_APPLY_WORKERS (1,2) for the apply test, BENCH_PEERS (xdsgate,nginx,haproxy;
"xdsgate-b" adds the xdsgate of the build tree BENCH_ALT_BUILD, for an A/B comparison in one run),
BENCH_PIN (1: proxies on the last CPU, origin and load generators on the
others, for the one-worker runs), BENCH_OUT (BUILD/bench). Figures are
described in docs/benchmarks.md."""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import apply as apply_test
import scale

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SMALL_PATH = "/"
BULK = {"bulk64k": ("/bulk/64k.bin", 64 * 1024), "bulk1m": ("/bulk/1m.bin", 1024 * 1024)}
SCALE_HOST, SCALE_PATH = scale.HOST, scale.PATH  # what the scale and apply runs request
ALL_TESTS = ["mem", "h1", "h2", "latency", "bulk", "tls", "scale", "apply", "workers2"]


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_float(name, default):
    return float(os.environ.get(name, default))


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0, proc=None, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s before listening on %d" % (what, proc.returncode, port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s: nothing listening on 127.0.0.1:%d after %.0fs" % (what, port, timeout))


def fill(template, subst):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    if left:
        raise RuntimeError("%s: unfilled %s" % (template, sorted(set(left))))
    return text


# --- /proc readers ---

def children_of(pid):
    """pid and every descendant (nginx's workers; xdsgate and HAProxy are one process)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pids):
    """user+sys of every thread of these processes, in seconds."""
    total = 0
    for p in pids:
        with open("/proc/%d/stat" % p) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def pss_bytes(pids):
    """Proportional set size: pages shared between nginx's master and workers counted once."""
    total = 0
    for p in pids:
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


def get(url, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


def rss_bytes(pids):
    total = 0
    for p in pids:
        with open("/proc/%d/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


# --- processes ---

class Procs:
    """Every process started here, stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.started = []

    def start(self, argv, name, cpus=None, stdin=None):
        if cpus:
            argv = ["taskset", "-c", cpus] + argv
        out = open(os.path.join(self.run_dir, name + ".out"), "wb")
        err = open(os.path.join(self.run_dir, name + ".err"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=stdin if stdin is not None else subprocess.DEVNULL)
        p.name, p.files = name, (out, err)
        self.started.append(p)
        return p

    def stop(self, p, timeout=10.0):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in p.files:
            f.close()
        if p in self.started:
            self.started.remove(p)

    def stop_all(self):
        for p in reversed(list(self.started)):
            try:
                self.stop(p)
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                log("stopping %s (pid %d): %s" % (p.name, p.pid, e))

    def err_tail(self, name):
        try:
            with open(os.path.join(self.run_dir, name + ".err"), "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""


# --- the peers ---

class Peer:
    def __init__(self, name, ctx, workers, cpus, scale=False, apply=False):
        # apply: the scale config with apply.py's variant 0, ready for reloads (HAProxy master-worker)
        self.name, self.ctx, self.workers, self.cpus = name, ctx, workers, cpus
        self.scale, self.apply = scale or apply, apply
        self.tag = "%s-%dw%s" % (name, workers, "-apply" if apply else "-scale" if scale else "")
        self.host, self.path = SCALE_HOST, SCALE_PATH
        self.ports = {k: free_port() for k in ("H1", "H2", "TLS_EC", "TLS_RSA")}
        self.proc = None
        self.pids = []

    def subst(self):
        s = dict(self.ctx.subst)
        s.update(self.ports)
        s["WORKERS"] = self.workers
        return s

    def url(self, path, port="H1", scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.ports[port], path)

    def wait_ready(self):
        if self.scale:  # the scale configs have the HTTP/1.1 listener only
            wait_port(self.ports["H1"], proc=self.proc, what=self.tag)
            if get(self.url(scale.PATH), scale.HOST)[0] != 200:
                raise RuntimeError("%s: GET %s answered badly" % (self.tag, scale.PATH))
            self.pids = children_of(self.proc.pid)
            return
        for k in ("H1", "H2", "TLS_EC", "TLS_RSA"):
            wait_port(self.ports[k], proc=self.proc, what=self.name)
        # one request each way, so a broken config stops the run here
        with urllib.request.urlopen(self.url(SMALL_PATH), timeout=10) as r:
            if r.status != 200:
                raise RuntimeError("%s: GET / answered %d" % (self.name, r.status))
        with urllib.request.urlopen(self.url(BULK["bulk64k"][0]), timeout=10) as r:
            if len(r.read()) != BULK["bulk64k"][1]:
                raise RuntimeError("%s: /bulk/64k.bin came back short" % self.name)
        self.pids = children_of(self.proc.pid)

    def cpu(self):
        return cpu_seconds(self.pids)

    def rss(self):
        return rss_bytes(self.pids)

    def pss(self):
        return pss_bytes(self.pids)


class Nginx(Peer):
    def write_conf(self, variant=0):
        conf = os.path.join(self.ctx.run_dir, self.tag + ".conf")
        text = scale.nginx_conf(self.subst()) if self.scale else fill("nginx.conf.in", self.subst())
        with open(conf, "w") as f:
            f.write(apply_test.nginx_conf(text, variant) if self.apply else text)
        return conf

    def start(self):
        tag = self.tag
        conf = self.write_conf()
        self.proc = self.ctx.procs.start(["nginx", "-e", os.path.join(self.ctx.run_dir, tag + ".log"),
                                          "-c", conf, "-g", "daemon off;"], tag, self.cpus)
        self.wait_ready()


class Haproxy(Peer):
    def write_conf(self, variant=0):
        conf = os.path.join(self.ctx.run_dir, self.tag + ".cfg")
        text = (scale.haproxy_cfg(self.subst(), os.path.join(self.ctx.run_dir, self.tag + ".map")) if self.scale
                else fill("haproxy.cfg.in", self.subst()))
        with open(conf, "w") as f:
            f.write(apply_test.haproxy_cfg(text, variant) if self.apply else text)
        return conf

    def start(self):
        tag = self.tag
        conf = self.write_conf()
        # reloads need the master-worker mode (-W): the master re-reads the file on SIGUSR2
        self.proc = self.ctx.procs.start(["haproxy"] + (["-W"] if self.apply else []) + ["-db", "-f", conf],
                                         tag, self.cpus)
        self.wait_ready()


def hcm(codec):
    """Envoy's HttpConnectionManager with RDS "bench" and the router, as JSON (valid YAML flow)."""
    return json.dumps({
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                     "HttpConnectionManager",
            "stat_prefix": "bench", "codec_type": codec,
            "rds": {"route_config_name": "bench", "config_source": {"ads": {}, "resource_api_version": "V3"}},
            "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}})


def tls_ctx(run_dir, kind):
    return json.dumps({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [{"certificate_chain": {"filename": os.path.join(run_dir, kind + ".crt")},
                                      "private_key": {"filename": os.path.join(run_dir, kind + ".key")}}]}}})


class Xdsgate(Peer):
    def binary(self):
        # "xdsgate-b": a second build (BENCH_ALT_BUILD) run side by side with the first, for A/B comparisons
        if self.name == "xdsgate-b":
            return os.path.join(os.path.abspath(os.environ["BENCH_ALT_BUILD"]), "xdsgate")
        return self.ctx.binary("xdsgate")

    def write_conf(self, variant=0):
        # the snapshot file; the stub re-reads it on SIGHUP
        s = self.subst()
        s.update(HCM_HTTP1=hcm("HTTP1"), HCM_HTTP2=hcm("HTTP2"), HCM_AUTO=hcm("AUTO"),
                 TLS_CTX_EC=tls_ctx(self.ctx.run_dir, "ec"), TLS_CTX_RSA=tls_ctx(self.ctx.run_dir, "rsa"))
        snap = os.path.join(self.ctx.run_dir, self.tag + ".yaml")
        text = scale.xdsgate_yaml(s["H1"], s["SMALL"], s["HCM_HTTP1"]) if self.scale else fill("xdsgate.yaml.in", s)
        tmp = snap + ".tmp"  # renamed into place: the stub's file poll never reads half a file
        with open(tmp, "w") as f:
            f.write(apply_test.xdsgate_yaml(text, variant) if self.apply else text)
        os.rename(tmp, snap)
        return snap

    def start(self):
        ctx, tag = self.ctx, self.tag
        snap = self.write_conf()
        stub_port, self.admin = free_port(), free_port()
        # the control plane is not part of the proxy: its CPU is not counted, and it runs beside the load
        self.stub = ctx.procs.start([ctx.binary("control-plane-stub"), "--port", str(stub_port),
                                     "--snapshot", snap], "stub-" + tag, ctx.load_cpus)
        wait_port(stub_port, proc=self.stub, what="control-plane-stub")
        self.proc = ctx.procs.start([self.binary(), "--xds-server", "127.0.0.1:%d" % stub_port,
                                     "--node-id", "bench", "--admin", "127.0.0.1:%d" % self.admin,
                                     "--concurrency", str(self.workers),
                                     # info: the apply test reads the "active on all workers" lines
                                     "--log-level", "info" if self.apply else "warn"], tag, self.cpus)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.admin, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("xdsgate not ready:\n" + ctx.procs.err_tail(tag))
            time.sleep(0.1)
        self.wait_ready()


class Origin(Peer):
    """The origin itself, as a 'peer' for the latency baseline (no proxy in the way)."""

    def __init__(self, ctx):
        self.name, self.ctx, self.workers, self.cpus = "origin", ctx, 1, ctx.load_cpus
        self.ports = {"H1": ctx.subst["SMALL"]}
        self.proc, self.pids = None, []

    def start(self):
        ctx = self.ctx
        conf = os.path.join(ctx.run_dir, "origin.conf")
        with open(conf, "w") as f:
            f.write(fill("origin.conf.in", ctx.subst))
        self.proc = ctx.procs.start(["nginx", "-e", os.path.join(ctx.run_dir, "origin.log"), "-c", conf,
                                     "-g", "daemon off;"], "origin", self.cpus)
        wait_port(ctx.subst["SMALL"], proc=self.proc, what="origin")
        wait_port(ctx.subst["BULK"], proc=self.proc, what="origin")
        self.pids = children_of(self.proc.pid)


PEER_CLASSES = {"xdsgate": Xdsgate, "xdsgate-b": Xdsgate, "nginx": Nginx, "haproxy": Haproxy}


# --- load generators (each returns a dict of figures) ---

def run_tool(argv, cpus, timeout):
    if cpus:
        argv = ["taskset", "-c", cpus] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (argv[0], r.returncode, r.stdout[-1000:], r.stderr[-1000:]))
    return r.stdout


def wrk(ctx, url, conns, secs, host=None):
    return parse_wrk(run_tool(["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "10s"]
                              + (["-H", "Host: " + host] if host else []) + [url], ctx.load_cpus, secs + 30))


def parse_wrk(out):
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    n = int(m.group(1))
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": n, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "errors": errors + (int(bad.group(1)) if bad else 0)}


def h2load(ctx, url, clients, streams, secs, h1=False, rps=None, log_file=None):
    argv = ["h2load", "-t1", "-c%d" % clients, "-m%d" % streams, "-D%d" % secs]
    if h1:
        argv.append("--h1")
    if rps:
        argv.append("--rps=%d" % rps)
    if log_file:
        argv.append("--log-file=" + log_file)
    out = run_tool(argv + [url], ctx.load_cpus, secs + 30)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", out)
    rate = re.search(r"finished in ([\d.]+)(\w+), ([\d.]+) req/s", out)
    return {"requests": int(m.group(4)), "rps": float(rate.group(3)),
            "errors": int(m.group(5)) + int(m.group(6)) + int(m.group(7))}


def s_time(ctx, port, secs):
    out = run_tool(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new", "-time", str(secs)],
                   ctx.load_cpus, secs + 30)
    m = re.search(r"(\d+) connections in [\d.]+s", out)
    return {"handshakes": int(m.group(1))}


def percentiles(log_file, qs=(50, 99, 99.9)):
    with open(log_file) as f:
        lat = sorted(int(line.split("\t")[2]) for line in f if line.count("\t") >= 2)
    if not lat:
        return {}
    return {"p%g" % q: lat[min(len(lat) - 1, int(len(lat) * q / 100))] for q in qs} | {"samples": len(lat)}


# --- the measurements ---

class Bench:
    def __init__(self, build, out_dir):
        self.build = os.path.abspath(build)
        self.out_dir = out_dir
        self.reps = env_int("BENCH_REPS", 5)
        self.secs = env_int("BENCH_SECONDS", 4)
        self.conns = env_int("BENCH_CONNS", 50)
        self.h2c = env_int("BENCH_H2_CLIENTS", 10)
        self.h2m = env_int("BENCH_H2_STREAMS", 10)
        self.load = env_float("BENCH_LOAD", 0.5)
        self.idle = env_int("BENCH_IDLE_CONNS", 5000)
        self.tests = os.environ.get("BENCH_TESTS", ",".join(ALL_TESTS)).split(",")
        self.peer_names = os.environ.get("BENCH_PEERS", "xdsgate,nginx,haproxy").split(",")
        ncpu = len(os.sched_getaffinity(0))
        self.pin = env_int("BENCH_PIN", 1) and ncpu >= 2
        cpus = sorted(os.sched_getaffinity(0))
        self.proxy_cpus = str(cpus[-1]) if self.pin else None
        self.load_cpus = ",".join(str(c) for c in cpus[:-1]) if self.pin else None
        self.run_dir = tempfile.mkdtemp(prefix="xdsgate-bench-")
        os.chmod(self.run_dir, 0o755)
        self.procs = Procs(self.run_dir)
        self.results = {}  # config -> test -> peer -> [sample dicts]
        self.notes = []

    def binary(self, name):
        return os.path.join(self.build, name)

    def prepare(self):
        run = self.run_dir
        os.makedirs(os.path.join(run, "www", "bulk"))
        os.makedirs(os.path.join(run, "tmp"))
        for name, (path, size) in BULK.items():
            with open(os.path.join(run, "www") + path, "wb") as f:
                f.write(os.urandom(size))
        for root, dirs, files in os.walk(run):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o644)
        sh = lambda *a: subprocess.run(list(a), check=True, capture_output=True)  # noqa: E731
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", run + "/ec.key", "-out", run + "/ec.crt", "-days", "2", "-subj", "/CN=bench.test")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", run + "/rsa.key",
           "-out", run + "/rsa.crt", "-days", "2", "-subj", "/CN=bench.test")
        for k in ("ec", "rsa"):  # HAProxy wants certificate and key in one file
            with open("%s/%s.pem" % (run, k), "w") as out:
                for part in ("crt", "key"):
                    with open("%s/%s.%s" % (run, k, part)) as f:
                        out.write(f.read())
            os.chmod("%s/%s.key" % (run, k), 0o644)
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        try:  # room for the idle-connection runs: the proxies inherit this
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
            nofile = 65536
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        if self.idle + 1000 > nofile // 2:  # HAProxy wants two descriptors per connection
            raise RuntimeError("BENCH_IDLE_CONNS=%d needs a descriptor limit over %d, not %d"
                               % (self.idle, 2 * (self.idle + 1000), nofile))
        self.subst = {"RUN": run, "SMALL": free_port(), "BULK": free_port(), "NOFILE": nofile,
                      "CONNS": nofile // 2 - 100,
                      "USER": "user root;" if os.geteuid() == 0 else ""}
        self.origin = Origin(self)
        self.origin.start()

    def start_peers(self, workers, cpus, scale=False, apply=False):
        peers = []
        for name in self.peer_names:
            p = PEER_CLASSES[name](name, self, workers, cpus, scale, apply)
            log("starting %s with %d worker%s%s" % (name, workers, "s" if workers > 1 else "",
                                                    ", 10,000 routes" if scale or apply else ""))
            p.start()
            peers.append(p)
        return peers

    def stop_peers(self, peers):
        for p in peers:
            for proc in [p.proc] + ([p.stub] if isinstance(p, Xdsgate) else []):
                self.procs.stop(proc)

    def record(self, config, test, peer, sample):
        self.results.setdefault(config, {}).setdefault(test, {}).setdefault(peer, []).append(sample)

    def measured(self, peer, fn):
        """Runs a load generator, adding the proxy's CPU seconds over it."""
        c0 = peer.cpu()
        r = fn()
        r["cpu_s"] = peer.cpu() - c0
        return r

    def interleaved(self, config, test, peers, fn, reps=None):
        # The order turns each repetition (A B C, B C A, C A B, ...): the run
        # right after a pause of the proxies' CPU (the no-proxy latency run)
        # came out slower on this VM whoever ran there, by more than a proxy
        # adds at p50; always first, xdsgate carried it alone.
        for rep in range(reps or self.reps):
            k = rep % len(peers)
            for p in peers[k:] + peers[:k]:
                r = fn(p)
                self.record(config, test, p.name, r)
            log("%s %s: repetition %d/%d done" % (config, test, rep + 1, reps or self.reps))

    # each test below records samples; summarise() turns them into the table

    def t_h1(self, config, peers):
        def one(p):
            r = self.measured(p, lambda: wrk(self, p.url(SMALL_PATH), self.conns, self.secs))
            r["cpu_us_req"] = r["cpu_s"] * 1e6 / max(r["requests"], 1)
            return r
        self.interleaved(config, "h1", peers, one)

    def t_h2(self, config, peers):
        def one(p):
            r = self.measured(p, lambda: h2load(self, p.url(SMALL_PATH, "H2"), self.h2c, self.h2m, self.secs))
            r["cpu_us_req"] = r["cpu_s"] * 1e6 / max(r["requests"], 1)
            return r
        self.interleaved(config, "h2", peers, one)

    def t_latency(self, config, peers):
        h1 = self.results.get(config, {}).get("h1")
        if h1:
            slowest = min(statistics.median(s["rps"] for s in v) for v in h1.values())
        else:  # without the saturated run, a quick one per peer sets the pace
            slowest = min(wrk(self, p.url(SMALL_PATH), self.conns, 2)["rps"] for p in peers)
        clients = 10
        per_client = max(1, int(slowest * self.load / clients))
        self.notes.append("latency: paced at %d req/s (%d HTTP/1.1 connections x %d req/s), %.0f %% of the "
                          "slowest peer's saturated rate" % (per_client * clients, clients, per_client,
                                                             100 * self.load))
        self.paced_rate = per_client * clients
        log_file = os.path.join(self.run_dir, "latency.tsv")

        def one(p):
            if os.path.exists(log_file):  # h2load appends
                os.unlink(log_file)
            r = self.measured(p, lambda: h2load(self, p.url(SMALL_PATH), clients, 1, self.secs, h1=True,
                                                rps=per_client, log_file=log_file))
            r.update(percentiles(log_file))
            return r
        self.interleaved(config, "latency", peers + [self.origin], one)

    def t_bulk(self, config, peers):
        for test, (path, size) in BULK.items():
            conns = 8 if size < 1 << 20 else 4

            def one(p, path=path, size=size, conns=conns):
                r = self.measured(p, lambda: wrk(self, p.url(path), conns, self.secs))
                r["bytes"] = r["requests"] * size
                r["ns_per_byte"] = r["cpu_s"] * 1e9 / max(r["bytes"], 1)
                r["gbit_s"] = r["bytes"] * 8 / self.secs / 1e9
                return r
            self.interleaved(config, test, peers, one)

    def t_tls(self, config, peers):
        for kind, port in (("ec", "TLS_EC"), ("rsa", "TLS_RSA")):
            def one(p, port=port):
                r = self.measured(p, lambda: s_time(self, p.ports[port], self.secs))
                r["cpu_us_handshake"] = r["cpu_s"] * 1e6 / max(r["handshakes"], 1)
                return r
            self.interleaved(config, "tls_handshake_" + kind, peers, one)

        def ka(p):
            r = self.measured(p, lambda: wrk(self, p.url(SMALL_PATH, "TLS_EC", "https"), self.conns, self.secs))
            r["cpu_us_req"] = r["cpu_s"] * 1e6 / max(r["requests"], 1)
            return r
        self.interleaved(config, "tls_keepalive", peers, ka)

    def t_mem(self, config, kind):
        """Fresh processes, N idle connections of one kind (HTTP/1.1 keep-alive, or h2c), each after one
        request; RSS growth per connection. Once per peer and kind: freed memory stays in the allocator,
        so a second run on the same processes would measure less."""
        n, port = self.idle, {"h1": "H1", "h2": "H2"}[kind]
        peers = self.start_peers(1, self.proxy_cpus)
        try:
            for p in peers:
                for _ in range(20):
                    urllib.request.urlopen(p.url(SMALL_PATH), timeout=10).read()
                time.sleep(0.5)
                r = {"conns": n, "rss_before": p.rss()}
                h = self.procs.start([sys.executable, os.path.join(HERE, "idle.py"), str(p.ports[port]),
                                      str(n), kind], "idle-%s-%s" % (p.name, kind), self.load_cpus,
                                     stdin=subprocess.PIPE)
                try:
                    self.wait_idle(h, n)
                    time.sleep(1.0)
                    r["rss_after"] = p.rss()
                finally:
                    h.stdin.close()
                    self.procs.stop(h, timeout=30)
                r[kind + "_bytes_per_conn"] = (r["rss_after"] - r["rss_before"]) / n
                self.record(config, "mem", p.name, r)
                log("mem %s: %.0f B per idle %s connection" % (p.name, r[kind + "_bytes_per_conn"], kind))
        finally:
            self.stop_peers(peers)

    def t_scale(self, config, peers):
        """The same request (the last route of the last virtual host) through the one-route peers and
        through peers with 10,000 routes and 1,000 clusters, interleaved; and the PSS of each."""
        t0 = time.monotonic()
        big = self.start_peers(1, self.proxy_cpus, scale=True)
        log("scale: 3 peers with 10,000 routes up in %.1f s" % (time.monotonic() - t0))
        try:
            for p, sp in zip(peers, big):
                for q in (p, sp):
                    for _ in range(200):
                        get(q.url(scale.PATH), scale.HOST)
                self.record(config, "scale_pss", p.name, {"pss_1route_mb": p.pss() / 2**20,
                                                          "pss_mb": sp.pss() / 2**20})
            for rep in range(self.reps):
                for p, sp in zip(peers, big):
                    for test, q in (("scale1", p), ("scale10k", sp)):
                        r = self.measured(q, lambda: wrk(self, q.url(scale.PATH), self.conns, self.secs,
                                                         scale.HOST))
                        r["cpu_us_req"] = r["cpu_s"] * 1e6 / max(r["requests"], 1)
                        self.record(config, test, p.name, r)
                log("%s scale: repetition %d/%d done" % (config, rep + 1, self.reps))
        finally:
            self.stop_peers(big)

    def t_apply(self, config, workers):
        """The 10,000-route config applied BENCH_APPLIES times to each running peer under wrk load
        (apply.py); BENCH_APPLY_REPS (1) runs per peer, interleaved: each is already 20 applies."""
        n, reps = env_int("BENCH_APPLIES", 20), env_int("BENCH_APPLY_REPS", 1)
        t0 = time.monotonic()
        peers = self.start_peers(workers, self.proxy_cpus if workers == 1 else None, apply=True)
        log("apply: %d peers with 10,000 routes up in %.1f s" % (len(peers), time.monotonic() - t0))
        try:
            for rep in range(reps):
                for p in peers:
                    t0 = time.monotonic()
                    run, applies = self.apply_run(p, n, rep * n)
                    for r in applies:
                        self.record(config, "apply", p.name, r)
                    self.record(config, "apply_load", p.name, run)
                    log("%s apply %s: %d applies in %.1f s, %d failed requests" % (
                        config, p.name, len(applies), time.monotonic() - t0, run["failed"]))
        finally:
            self.stop_peers(peers)

    def apply_run(self, p, n, first):
        """n applies to p back to back (each waits for the previous to be active) under wrk."""
        for _ in range(20):
            get(p.url(p.path), p.host)
        run = {"pss_before_mb": p.pss() / 2**20}
        w = self.procs.start(["wrk", "-t1", "-c%d" % self.conns, "-d600s", "--timeout", "10s", "-H",
                              "Host: " + p.host, p.url(p.path)], "wrk-apply-" + p.tag, self.load_cpus)
        applies = []
        try:
            time.sleep(1.0)  # the load is on before the first apply
            for i in range(first + 1, first + n + 1):
                p.write_conf(i)
                if isinstance(p, Xdsgate):
                    r = apply_test.apply_xdsgate(p, i, self.run_dir)
                else:
                    sig = signal.SIGHUP if isinstance(p, Nginx) else signal.SIGUSR2
                    r = apply_test.apply_reload(p, i, sig, children_of)
                r["apply"] = i
                applies.append(r)
                if "error" in r:
                    log("apply %s #%d: %s" % (p.name, i, r["error"]))
                if w.poll() is not None:
                    raise RuntimeError("wrk stopped during the applies: " + self.procs.err_tail(w.name))
            time.sleep(1.0)
        finally:
            if w.poll() is None:
                w.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
                try:
                    w.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            self.procs.stop(w)
        with open(os.path.join(self.run_dir, w.name + ".out")) as f:
            out = f.read()
        load = parse_wrk(out)
        # which kind: old workers closing keep-alive connections show as read errors
        run["wrk_errors"] = " ".join(re.findall(r"Socket errors: .*|Non-2xx or 3xx responses: \d+", out))
        p.pids = children_of(p.proc.pid)
        time.sleep(2.0)  # xdsgate hands freed memory back once updates have been quiet for 1 s
        run.update(requests=load["requests"], failed=load["errors"], applies=len(applies),
                   not_applied=sum(1 for r in applies if "error" in r), pss_after_mb=p.pss() / 2**20)
        return run, applies

    def wait_idle(self, h, n):
        out = os.path.join(self.run_dir, h.name + ".out")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open(out) as f:
                text = f.read()
            if "ready" in text:
                return
            if "failed" in text or h.poll() is not None:
                raise RuntimeError("%s: %s %s" % (h.name, text.strip(), self.procs.err_tail(h.name)))
            time.sleep(0.2)
        raise RuntimeError("%s: %d connections not open after 120 s" % (h.name, n))

    def run(self):
        self.started_at = time.time()
        self.load_before = os.getloadavg()
        self.prepare()
        if "mem" in self.tests:
            for kind in ("h1", "h2"):
                log("1 worker: idle %s connections" % kind)
                self.t_mem("1w", kind)
        one = [t for t in ("h1", "h2", "latency", "bulk", "tls", "scale") if t in self.tests]
        if one:
            peers = self.start_peers(1, self.proxy_cpus)
            for t in one:
                log("1 worker: %s" % t)
                getattr(self, "t_" + t)("1w", peers)
            self.stop_peers(peers)
        if "apply" in self.tests:
            for w in (int(x) for x in os.environ.get("BENCH_APPLY_WORKERS", "1,2").split(",")):
                log("%d worker%s: apply" % (w, "s" if w > 1 else ""))
                self.t_apply("%dw" % w, w)
        if "workers2" in self.tests:
            # two workers each on a 2-CPU machine: nothing is pinned, the load generators compete
            peers = self.start_peers(2, None)
            for t in ("h1", "h2"):
                log("2 workers: %s" % t)
                getattr(self, "t_" + t)("2w", peers)
            self.stop_peers(peers)
        self.load_after = os.getloadavg()
        self.finished_at = time.time()


# --- the report ---

def median_of(samples, key):
    vals = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(vals) if vals else None


# (config, test, key, label, lower is better, target) ; target: ("nginx"|"haproxy"|"peer"|"abs", factor)
ROWS = [
    ("1w", "h1", "rps", "H1 keep-alive, saturating: req/s", False, None),
    ("1w", "h1", "cpu_us_req", "H1 keep-alive: proxy CPU us/req", True, ("nginx", 0.80)),
    ("1w", "h2", "rps", "H2 h2c front (H1 upstream): req/s", False, None),
    ("1w", "h2", "cpu_us_req", "H2 h2c front: proxy CPU us/req", True, ("haproxy", 0.90)),
    ("1w", "latency", "added_p50", "latency added at paced load: p50 us", True, None),
    ("1w", "latency", "added_p99", "latency added at paced load: p99 us", True, ("peer", 0.80)),
    ("1w", "latency", "added_p99.9", "latency added at paced load: p99.9 us", True, None),
    ("1w", "bulk64k", "ns_per_byte", "bulk 64 KiB: proxy CPU ns/byte", True, ("abs", 0.6)),
    ("1w", "bulk1m", "ns_per_byte", "bulk 1 MiB: proxy CPU ns/byte", True, ("abs", 0.6)),
    ("1w", "tls_handshake_ec", "cpu_us_handshake", "TLS full handshake ECDSA P-256: CPU us", True,
     ("nginx", 0.40)),
    ("1w", "tls_handshake_rsa", "cpu_us_handshake", "TLS full handshake RSA-2048: CPU us", True, None),
    ("1w", "tls_keepalive", "cpu_us_req", "TLS keep-alive H1: proxy CPU us/req", True, None),
    ("1w", "scale1", "cpu_us_req", "Host vh99, /r99/: CPU us/req, 1 route", True, None),
    ("1w", "scale10k", "cpu_us_req", "Host vh99, /r99/: CPU us/req, 10k routes", True, None),
    ("1w", "scale", "cpu_growth", "CPU/req at 10k routes / at 1 route", True, ("abs", 1.05)),
    ("1w", "scale_pss", "pss_1route_mb", "PSS, 1-route config: MB", True, None),
    ("1w", "scale_pss", "pss_mb", "PSS, 10k routes/1k clusters: MB", True, ("abs", 12)),
    ("1w", "apply", "all_ms", "apply 10k routes/1k clusters: until all workers, ms", True, ("abs", 50)),
    ("1w", "apply", "probe_ms", "apply: until a new connection sees it, ms", True, None),
    ("1w", "apply", "xds_cpu_ms", "apply: xdsgate's xds thread CPU, ms", True, None),
    ("1w", "apply_load", "failed_worst", "failed requests during the applies, load", True, ("abs", 0)),
    ("1w", "apply_load", "pss_after_mb", "PSS after the applies: MB", True, None),
    ("2w", "apply", "all_ms", "2 workers, apply: until all workers, ms", True, ("abs", 50)),
    ("2w", "apply", "probe_ms", "2 workers, apply: until a connection sees it, ms", True, None),
    ("2w", "apply", "xds_cpu_ms", "2 workers, apply: xds thread CPU, ms", True, None),
    ("2w", "apply_load", "failed_worst", "2 workers, failed requests during applies", True, ("abs", 0)),
    ("1w", "mem", "h1_bytes_per_conn", "RSS per idle H1 keep-alive conn: bytes", True, ("abs", 512)),
    ("1w", "mem", "h2_bytes_per_conn", "RSS per idle H2 conn: bytes", True, ("abs", 3072)),
    ("2w", "h1", "rps", "2 workers, H1: req/s", False, None),
    ("2w", "h1", "cpu_us_req", "2 workers, H1: proxy CPU us/req", True, None),
    ("2w", "h2", "rps", "2 workers, H2: req/s", False, None),
    ("2w", "h2", "cpu_us_req", "2 workers, H2: proxy CPU us/req", True, None),
]


def summarise(bench):
    res = bench.results
    # latency added: in each repetition (the peers and the origin run back to
    # back, interleaved) the peer's percentile minus the origin-direct one,
    # then the median of those differences. Pairing within a repetition keeps
    # the machine's drift over the run (all tails move together by more than
    # a proxy adds) out of the figure, which a difference of two medians
    # taken over the whole run did not.
    lat = res.get("1w", {}).get("latency")
    if lat and "origin" in lat:
        for q in ("p50", "p99", "p99.9"):
            base = [s.get(q) for s in lat["origin"] if "requests" in s]
            bench.notes.append("latency: origin direct (no proxy) %s %s us" % (q, fmt(median_of(lat["origin"], q))))
            for peer, samples in lat.items():
                runs = [s.get(q) for s in samples if "requests" in s]
                diffs = [a - b for a, b in zip(runs, base) if a is not None and b is not None]
                if diffs:
                    samples.append({"added_" + q: statistics.median(diffs)})
    one = res.get("1w", {})
    if "scale1" in one and "scale10k" in one:
        for peer in one["scale10k"]:
            a, b = median_of(one["scale10k"][peer], "cpu_us_req"), median_of(one["scale1"].get(peer, []), "cpu_us_req")
            if a is not None and b:
                one.setdefault("scale", {}).setdefault(peer, []).append({"cpu_growth": a / b})
    for config in res:
        for peer, samples in res[config].get("apply_load", {}).items():
            samples.append({"failed_worst": max(s["failed"] for s in samples)})
    rows = []
    for config, test, key, label, lower, target in ROWS:
        by = res.get(config, {}).get(test)
        if not by:
            continue
        vals = {p: median_of(by.get(p, []), key) for p in bench.peer_names}
        xg, ng, hp = vals.get("xdsgate"), vals.get("nginx"), vals.get("haproxy")
        ratio = lambda a, b: (a / b) if (a is not None and b) else None  # noqa: E731
        row = {"config": config, "test": test, "figure": key, "label": label, "median": vals,
               "xdsgate/nginx": ratio(xg, ng), "xdsgate/haproxy": ratio(xg, hp), "target": None, "met": None}
        if target and xg is not None:
            kind, f = target
            if kind == "abs":
                row["target"], row["met"] = "<= %g" % f, xg <= f
            elif kind in ("nginx", "haproxy") and vals.get(kind):
                row["target"], row["met"] = "<= %.2fx %s" % (f, kind), xg <= f * vals[kind]
            elif kind == "peer":
                others = [v for p, v in vals.items() if p != "xdsgate" and v is not None]
                if others:
                    row["target"], row["met"] = "<= %.2fx better peer" % f, xg <= f * max(min(others), 0)
        rows.append(row)
    return rows


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def print_table(bench, rows, out=sys.stdout):
    peers = bench.peer_names
    head = ["figure (median of %d)" % bench.reps] + peers + ["xg/nginx", "xg/haproxy", "target"]
    lines = []
    for r in rows:
        tgt = ("%s: %s" % (r["target"], "met" if r["met"] else "NOT met")) if r["target"] else ""
        lines.append([r["label"]] + [fmt(r["median"].get(p)) for p in peers]
                     + [fmt(r["xdsgate/nginx"]), fmt(r["xdsgate/haproxy"]), tgt])
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |", file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for line in lines:
        print("| " + " | ".join(c.ljust(w) if i == 0 or i == len(line) - 1 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(line, widths))) + " |", file=out)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass

    def version(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return ""
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "nginx": version(["nginx", "-v"]), "haproxy": version(["haproxy", "-v"]),
            "wrk": version(["wrk", "-v"]), "h2load": version(["h2load", "--version"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("XG_BUILD", "build"))
    args = ap.parse_args()
    for tool in ("nginx", "haproxy", "wrk", "h2load", "openssl", "taskset"):
        if not shutil.which(tool):
            sys.exit("bench: %s is missing: run `bash deploy/deps.sh bench`" % tool)
    for b in ("xdsgate", "control-plane-stub"):
        if not os.access(os.path.join(args.build, b), os.X_OK):
            sys.exit("bench: %s/%s is not built" % (args.build, b))
    out_dir = os.environ.get("BENCH_OUT", os.path.join(args.build, "bench"))
    os.makedirs(out_dir, exist_ok=True)
    bench = Bench(args.build, out_dir)
    # a SIGTERM (or make's Ctrl-C) unwinds through the finally below, which stops every process by pid
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    log("run dir %s; %d repetitions of %d s; tests %s; peers %s; pinned: %s" % (
        bench.run_dir, bench.reps, bench.secs, ",".join(bench.tests), ",".join(bench.peer_names),
        "proxies on CPU %s, origin and load on %s" % (bench.proxy_cpus, bench.load_cpus) if bench.pin else "no"))
    try:
        bench.run()
    finally:
        bench.procs.stop_all()
    rows = summarise(bench)
    xg_version = subprocess.run([bench.binary("xdsgate"), "--version"], capture_output=True, text=True).stdout
    doc = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(bench.started_at)),
           "seconds": round(bench.finished_at - bench.started_at, 1),
           "machine": machine() | {"loadavg_before": bench.load_before, "loadavg_after": bench.load_after,
                                   "xdsgate": xg_version.strip()},
           "params": {"reps": bench.reps, "seconds": bench.secs, "wrk_conns": bench.conns,
                      "h2_clients": bench.h2c, "h2_streams": bench.h2m, "load": bench.load,
                      "idle_conns": bench.idle, "pinned": bool(bench.pin), "tests": bench.tests,
                      "paced_rate": getattr(bench, "paced_rate", None)},
           "notes": bench.notes, "table": rows, "samples": bench.results}
    name = os.path.join(out_dir, "peers-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    for path in (name, os.path.join(out_dir, "peers-latest.json")):
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
    print()
    print("xdsgate vs nginx vs HAProxy: %d repetitions x %d s, interleaved; load average %.2f before, %.2f after"
          % (bench.reps, bench.secs, bench.load_before[0], bench.load_after[0]))
    for n in bench.notes:
        print("  " + n)
    print_table(bench, rows)
    print("JSON: %s" % name)
    shutil.rmtree(bench.run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
