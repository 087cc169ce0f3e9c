"""Benchmark (not a test): the latency a global rate limit check adds to a
request over loopback. Real processes: control-plane-stub (ADS and its
RateLimitService), xdsgate --concurrency 2, the HTTP echo upstream of the
integration tests. Two listeners share the route and the upstream; one has
envoy.filters.http.ratelimit in front of the router (a generic_key
descriptor, limit never reached), the other only the router. One keep-alive
client per listener sends sequential GETs, alternating blocks between the
two; the figures are per-request round trips as the client sees them.

usage: ratelimit_global.py --build build [--requests N]"""
import argparse
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import yaml  # noqa: E402

import harness  # noqa: E402

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
RL = {"name": "envoy.filters.http.ratelimit", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit", "domain": "bench",
    "timeout": "1s", "rate_limit_service": {"transport_api_version": "V3",
                                           "grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}}}}


def listener(name, port, filters):
    route = {"match": {"prefix": "/"}, "route": {"cluster": "up", "rate_limits": [
        {"actions": [{"generic_key": {"descriptor_value": "bench"}}]}]}}
    return {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "hcm", "typed_config": {
                "@type": HCM, "stat_prefix": name,
                "route_config": {"name": name, "virtual_hosts": [{"name": "vh", "domains": ["*"],
                                                                   "routes": [route]}]},
                "http_filters": filters}}]}]}


def cluster(name, port, h2=False):
    c = {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": name, "type": "STATIC",
         "connect_timeout": "1s", "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
             {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}}
    if h2:
        c["typed_extension_protocol_options"] = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}}}}
    return c


class Client:
    """One keep-alive HTTP/1.1 connection; get() returns the round trip in seconds."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.req = b"GET /bench HTTP/1.1\r\nHost: bench\r\n\r\n"
        self.buf = b""

    def get(self):
        t0 = time.perf_counter()
        self.s.sendall(self.req)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            rest += self.s.recv(65536)
        self.buf = rest[length:]
        took = time.perf_counter() - t0
        if status != 200:
            raise SystemExit("unexpected status %d" % status)
        return took


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_RL_REQUESTS", "4000")))
    a = ap.parse_args()
    harness.BUILD = os.path.abspath(a.build)
    work = os.path.join(os.path.abspath(a.build), "bench", "ratelimit_global")
    os.makedirs(work, exist_ok=True)
    procs = harness.Procs(work)
    try:
        up = harness.free_port()
        procs.start(["/usr/bin/python3", os.path.join(HERE, "..", "integration", "upstreams.py"), "http", str(up),
                     "up"], name="up").wait_output("listening", stream="stdout", timeout=15)
        stub_port, plain, limited = harness.free_port(), harness.free_port(), harness.free_port()
        limits = os.path.join(work, "limits.yaml")
        with open(limits, "w") as f:
            yaml.safe_dump([{"domain": "bench", "descriptors": [{"key": "generic_key", "rate_limit": {
                "unit": "second", "requests_per_unit": 1000000000}}]}], f)
        snap = os.path.join(work, "snapshot.yaml")
        with open(snap, "w") as f:
            yaml.safe_dump({"resources": [listener("plain", plain, [ROUTER]),
                                          listener("limited", limited, [RL, ROUTER]),
                                          cluster("up", up), cluster("rls", stub_port, h2=True)]}, f,
                           sort_keys=False)
        procs.start([harness.binary("control-plane-stub"), "--port", str(stub_port), "--snapshot", snap,
                     "--ratelimit-config", limits], name="stub").wait_output(r'"event":"listening"',
                                                                              stream="stdout")
        procs.start([harness.binary("xdsgate"), "--xds-server", "127.0.0.1:%d" % stub_port, "--concurrency", "2",
                     "--admin", "127.0.0.1:%d" % harness.free_port(), "--log-level", "warn"], name="xdsgate")
        harness.wait_port(plain)
        harness.wait_port(limited)
        clients = {"without": Client(plain), "with": Client(limited)}
        for c in clients.values():  # warm-up: connections, pools, the RLS channel
            for _ in range(200):
                c.get()
        times = {"without": [], "with": []}
        block = 100
        for _ in range(max(1, a.requests // block)):
            for name, c in clients.items():
                times[name] += [c.get() for _ in range(block)]
        us = {k: (pct(v, 50) * 1e6, pct(v, 99) * 1e6) for k, v in times.items()}
        print("ratelimit_global: %d sequential requests each, keep-alive HTTP/1.1, loopback" % len(times["with"]))
        for k in ("without", "with"):
            print("  %-7s the filter: p50 %7.1f us  p99 %7.1f us" % (k, us[k][0], us[k][1]))
        print("  added by the global check: p50 %+.1f us  p99 %+.1f us" % (us["with"][0] - us["without"][0],
                                                                          us["with"][1] - us["without"][1]))
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
