"""The global rate limit filter (envoy.filters.http.ratelimit) against the
control-plane-stub's RateLimitService (--ratelimit-config, the same process
that serves ADS), with xdsgate on --concurrency 2: over the limit -> 429 with
x-envoy-ratelimited (and the service's body and headers), under it -> 200
with the service's request headers reaching the upstream and x-ratelimit-*
on the response; the service down -> allowed, or 500 with
failure_mode_deny; a slow service -> the filter's timeout is honoured;
per-route off switches (FilterConfig disabled, vh_rate_limits IGNORE); a
stage without rate limits makes no call; a per-route domain; a client that
goes away while the check is in flight, and SIGTERM with checks in flight;
gRPC requests (UNAVAILABLE / RESOURCE_EXHAUSTED); a service answering
nonsense (a Python fake); google_grpc.target_uri; an EDS move of the
service's endpoint; concurrent requests over both workers; filters that
reach one service in different ways (with and without an :authority, a
target_uri spelled like a cluster name) do not break each other's calls;
headers a service may not set; a failing service shows in the log as a
rate-limited warning. The snapshot is built here."""
import os
import socket
import subprocess
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
import yaml

import harness
from proxy_env import PY, echo, have_grpc, header_values, parse_head, start_upstream
from xds_env import Gate, Stub, wait_until, write_atomic

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
RL = "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit"
RL_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute"
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}

# The stub's limits (envoyproxy/ratelimit's YAML); day windows so that no
# window ends during a run but at midnight UTC.
LIMITS = [
    {"domain": "main", "descriptors": [
        {"key": "user", "rate_limit": {"unit": "day", "requests_per_unit": 3}},
        {"key": "generic_key", "value": "zero", "rate_limit": {"unit": "day", "requests_per_unit": 0}},
        {"key": "generic_key", "value": "free", "rate_limit": {"unit": "day", "requests_per_unit": 1000000}}]},
    {"domain": "h", "raw_body": "slow down\n",
     "response_headers_to_add": [{"key": "x-rl-stub", "value": "yes"}],
     "request_headers_to_add": [{"key": "x-rl-upstream", "value": "tagged"}],
     "descriptors": [{"key": "user", "rate_limit": {"unit": "day", "requests_per_unit": 1}}]},
    # names a service may not set are dropped; the rest goes through
    {"domain": "hdrs",
     "request_headers_to_add": [{"key": "X-RL-Case", "value": "Mixed"}, {"key": "host", "value": "evil.example"},
                                {"key": "transfer-encoding", "value": "chunked"},
                                {"key": "content-length", "value": "7"}, {"key": "connection", "value": "close"},
                                {"key": "te", "value": "gzip"}, {"key": "x-rl-ok", "value": "yes"}],
     "response_headers_to_add": [{"key": "x-rl-resp", "value": "yes"}, {"key": "content-length", "value": "1"},
                                 {"key": "transfer-encoding", "value": "chunked"},
                                 {"key": "upgrade", "value": "h2c"}, {"key": "keep-alive", "value": "1"}],
     "descriptors": [{"key": "generic_key", "rate_limit": {"unit": "day", "requests_per_unit": 1000000}}]},
    # more headers than the connection manager allows on a request (max_headers_count 100): a service error
    {"domain": "toomany",
     "response_headers_to_add": [{"key": "x-n%d" % i, "value": "v"} for i in range(101)],
     "descriptors": [{"key": "generic_key", "rate_limit": {"unit": "day", "requests_per_unit": 1000000}}]},
    {"domain": "slowzero", "test_delay_ms": 1000,
     "descriptors": [{"key": "generic_key", "rate_limit": {"unit": "day", "requests_per_unit": 0}}]},
    {"domain": "slow", "test_delay_ms": 1500,
     "descriptors": [{"key": "generic_key", "rate_limit": {"unit": "day", "requests_per_unit": 1000000}}]},
]

USER = {"request_headers": {"header_name": "x-user", "descriptor_key": "user"}}


def gkey(v):
    return {"generic_key": {"descriptor_value": v}}


def route(prefix, rate_limits=None, per_filter=None, cluster="up"):
    r = {"match": {"prefix": prefix}, "route": {"cluster": cluster}}
    if rate_limits is not None:
        r["route"]["rate_limits"] = rate_limits
    if per_filter is not None:
        r["typed_per_filter_config"] = {"envoy.filters.http.ratelimit": per_filter}
    return r


def listener(name, port, rl, routes, vh_rate_limits=None, hcm_extra=None):
    vh = {"name": "vh", "domains": ["*"], "routes": routes}
    if vh_rate_limits is not None:
        vh["rate_limits"] = vh_rate_limits
    rl = dict(rl)
    rl["@type"] = RL
    rl.setdefault("rate_limit_service", {"transport_api_version": "V3",
                                         "grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}})
    return {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": HCM, "stat_prefix": name,
                "route_config": {"name": name, "virtual_hosts": [vh]},
                "http_filters": [{"name": "envoy.filters.http.ratelimit", "typed_config": rl}, ROUTER],
                **(hcm_extra or {})}}]}]}


def cluster(name, port, h2=False):
    c = {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": name, "type": "STATIC",
         "connect_timeout": "1s",
         "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
             "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}}
    if h2:
        c["typed_extension_protocol_options"] = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}}}}
    return c


# A RateLimitService that answers bytes that are no RateLimitResponse, or a
# response whose overall_code is UNKNOWN: both are service errors.
FAKE_RLS = r"""
import sys, time
from concurrent import futures
import grpc
answer = {"garbage": b"\xff\xff\xff\xff", "unknown": b"\x08\x00"}[sys.argv[2]]
h = grpc.method_handlers_generic_handler("envoy.service.ratelimit.v3.RateLimitService", {
    "ShouldRateLimit": grpc.unary_unary_rpc_method_handler(lambda req, ctx: answer)})
s = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
s.add_generic_rpc_handlers((h,))
s.add_insecure_port("127.0.0.1:" + sys.argv[1])
s.start()
print("listening", flush=True)
s.wait_for_termination()
"""


def service(cluster_name):
    return {"transport_api_version": "V3", "grpc_service": {"envoy_grpc": {"cluster_name": cluster_name}}}


def dead_service():
    return {"transport_api_version": "V3", "grpc_service": {"envoy_grpc": {"cluster_name": "rls_dead"}}}


class World:
    def __init__(self, procs, tmp):
        self.tmp = str(tmp)
        self.up = start_upstream(procs, "http", "up")
        self.ports = {k: harness.free_port() for k in ("main", "deny_dead", "allow_dead", "no_cluster",
                                                        "slow_allow", "slow_deny", "slow_long", "exhausted",
                                                        "garbage", "unknown", "uri", "eds", "internal",
                                                        "internal_trusted", "external_trusted", "via_plain",
                                                        "via_auth", "via_named", "via_uri", "hdrs",
                                                        "toomany", "late")}
        fakes = {}
        if have_grpc():
            script = os.path.join(self.tmp, "fake_rls.py")
            write_atomic(script, FAKE_RLS)
            for mode in ("garbage", "unknown"):
                fakes[mode] = harness.free_port()
                procs.start([PY, script, str(fakes[mode]), mode], name="fake-rls-" + mode).wait_output(
                    "listening", stream="stdout", timeout=15)
        self.have_fakes = bool(fakes)
        stub_port = harness.free_port()
        limits = os.path.join(self.tmp, "limits.yaml")
        write_atomic(limits, yaml.safe_dump(LIMITS, sort_keys=False))
        self.path = os.path.join(self.tmp, "snapshot.yaml")
        p = self.ports
        zero = [{"actions": [gkey("zero")]}]
        resources = [
            listener("main", p["main"], {"domain": "main", "timeout": "2s",
                                         "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
                                         "response_headers_to_add": [{"header": {"key": "x-limited-by",
                                                                                 "value": "%HOSTNAME%"}}]}, [
                route("/limited", [{"actions": [USER]}]),
                route("/h", [{"actions": [USER]}], {"@type": RL_PER_ROUTE, "domain": "h"}),
                route("/off", zero, {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                                     "disabled": True}),
                route("/ignore", None, {"@type": RL_PER_ROUTE, "vh_rate_limits": "IGNORE"}),
                route("/stage1", [{"stage": 1, "actions": [gkey("zero")]}]),
                route("/nodesc", [{"actions": [USER]}]),  # no x-user: no descriptor, no call
                route("/", None),  # the virtual host's rate limit (limit 0)
            ], vh_rate_limits=zero),
            listener("deny_dead", p["deny_dead"], {"domain": "main", "failure_mode_deny": True,
                                                   "rate_limit_service": dead_service()},
                     [route("/", zero)]),
            listener("allow_dead", p["allow_dead"], {"domain": "main", "rate_limit_service": dead_service()},
                     [route("/", zero)]),
            listener("no_cluster", p["no_cluster"], {"domain": "main", "failure_mode_deny": True,
                                                     "status_on_error": {"code": "ServiceUnavailable"},
                                                     "rate_limit_service": {
                                                         "transport_api_version": "V3", "grpc_service": {
                                                             "envoy_grpc": {"cluster_name": "nowhere"}}}},
                     [route("/", zero)]),
            listener("slow_allow", p["slow_allow"], {"domain": "slow", "timeout": "0.2s"},
                     [route("/", [{"actions": [gkey("x")]}])]),
            listener("slow_deny", p["slow_deny"], {"domain": "slow", "timeout": "0.2s", "failure_mode_deny": True},
                     [route("/", [{"actions": [gkey("x")]}])]),
            listener("slow_long", p["slow_long"], {"domain": "slow", "timeout": "5s"},
                     [route("/", [{"actions": [gkey("x")]}])]),
            listener("exhausted", p["exhausted"], {"domain": "main", "rate_limited_as_resource_exhausted": True},
                     [route("/", zero)]),
            listener("uri", p["uri"], {"domain": "main", "failure_mode_deny": True, "rate_limit_service": {
                "transport_api_version": "V3",
                "grpc_service": {"google_grpc": {"target_uri": "127.0.0.1:%d" % stub_port, "stat_prefix": "rls"}}}},
                     [route("/", zero)]),
            listener("eds", p["eds"], {"domain": "main", "failure_mode_deny": True,
                                       "rate_limit_service": service("rls_eds")},
                     [route("/", [{"actions": [gkey("free")]}])]),
            {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "rls_eds", "type": "EDS",
             "connect_timeout": "1s", "eds_cluster_config": {"eds_config": {"ads": {}, "resource_api_version": "V3"}},
             "typed_extension_protocol_options": cluster("x", 0, h2=True)["typed_extension_protocol_options"]},
            self.assignment(harness.free_port()),
            # request_type: the client is internal where the connection manager trusts its
            # address (use_remote_address, xdsgate's default, and a loopback peer); with
            # use_remote_address false and no x-forwarded-for it is external
            listener("internal", p["internal"], {"domain": "main", "request_type": "internal"}, [route("/", zero)],
                     hcm_extra={"use_remote_address": False}),
            listener("internal_trusted", p["internal_trusted"], {"domain": "main", "request_type": "internal"},
                     [route("/", zero)]),
            listener("external_trusted", p["external_trusted"], {"domain": "main", "request_type": "external"},
                     [route("/", zero)]),
            # one service reached four ways
            listener("via_plain", p["via_plain"], {"domain": "main", "timeout": "5s", "failure_mode_deny": True},
                     [route("/", [{"actions": [gkey("free")]}])]),
            listener("via_auth", p["via_auth"], {"domain": "main", "timeout": "5s", "failure_mode_deny": True,
                                                   "rate_limit_service": {
                                                       "transport_api_version": "V3", "grpc_service": {"envoy_grpc": {
                                                           "cluster_name": "rls", "authority": "rls.example"}}}},
                     [route("/", [{"actions": [gkey("free")]}])]),
            listener("via_named", p["via_named"], {"domain": "main", "timeout": "5s", "failure_mode_deny": True,
                                                     "rate_limit_service": service("127.0.0.1:%d" % stub_port)},
                     [route("/", [{"actions": [gkey("free")]}])]),
            listener("via_uri", p["via_uri"], {"domain": "main", "timeout": "5s", "failure_mode_deny": True,
                                                 "rate_limit_service": {
                                                     "transport_api_version": "V3", "grpc_service": {"google_grpc": {
                                                         "target_uri": "127.0.0.1:%d" % stub_port,
                                                         "stat_prefix": "rls"}}}},
                     [route("/", [{"actions": [gkey("free")]}])]),
            listener("hdrs", p["hdrs"], {"domain": "hdrs"}, [route("/", [{"actions": [gkey("x")]}])]),
            listener("toomany", p["toomany"], {"domain": "toomany", "failure_mode_deny": True},
                     [route("/", [{"actions": [gkey("x")]}])]),
            # the connection manager answers 408 at 0.3 s; the service's OVER_LIMIT comes at 1 s
            listener("late", p["late"], {"domain": "slowzero", "timeout": "5s"},
                     [route("/", [{"actions": [gkey("x")]}])], hcm_extra={"request_timeout": "0.3s"}),
            cluster("up", self.up),
            cluster("rls", stub_port, h2=True),
            cluster("127.0.0.1:%d" % stub_port, stub_port, h2=True),
            cluster("rls_dead", harness.free_port(), h2=True),
        ]
        for mode, port in fakes.items():
            resources.append(listener(mode, p[mode], {"domain": "main", "failure_mode_deny": True,
                                                      "rate_limit_service": service("rls_" + mode)},
                                      [route("/", zero)]))
            resources.append(cluster("rls_" + mode, port, h2=True))
        self.stub_port = stub_port
        write_atomic(self.path, yaml.safe_dump({"resources": resources}, sort_keys=False))
        self.stub = Stub(procs, self.path, port=stub_port, extra=["--ratelimit-config", limits])
        self.gate = Gate(procs, self.stub.port, "sotw", ["--log-level", "debug"])
        self.gate.wait_ready()
        for name, port in self.ports.items():
            if name in ("garbage", "unknown") and not fakes:
                continue
            harness.wait_port(port)

    def assignment(self, port):
        """The EDS cluster rls_eds with one endpoint at port."""
        return {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
                "cluster_name": "rls_eds", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                    "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}

    def move_rls_eds(self, port):
        """port None: an assignment without endpoints."""
        doc = yaml.safe_load(open(self.path))
        doc["resources"] = [r for r in doc["resources"] if r.get("cluster_name") != "rls_eds"]
        a = self.assignment(port or 1)
        if port is None:
            a["endpoints"] = []
        doc["resources"].append(a)
        write_atomic(self.path, yaml.safe_dump(doc, sort_keys=False))

    def get(self, name, path, *args):
        """(status, headers, body, seconds) of a GET through listener name with curl."""
        out = os.path.join(self.tmp, "resp.bin")
        t0 = time.monotonic()
        r = subprocess.run(["curl", "-s", "-S", "-m", "20", "-D", "-", "-o", out] + list(args)
                           + ["http://127.0.0.1:%d%s" % (self.ports[name], path)], capture_output=True, timeout=30)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr.decode()
        status, _, headers, _ = parse_head(r.stdout.decode("latin-1"))
        return status, headers, open(out, "rb").read(), took


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = World(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        # SIGTERM while checks are in flight (the slow service holds them):
        # exit 0 without a hang, a leak or a sanitizer report.
        pending = []
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", w.ports["slow_long"]))
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            pending.append(c)
        time.sleep(0.3)
        w.gate.stop_clean()
        for c in pending:
            c.close()
    finally:
        procs.stop_all()


def user():
    return "u%d-%d" % (os.getpid(), time.monotonic_ns())


def hv(headers, name):
    return [v for k, v in headers if k.lower() == name]


def test_under_then_over_limit_with_x_ratelimit_headers(world):
    u = user()
    for left in (2, 1, 0):
        status, headers, body, _ = world.get("main", "/limited", "-H", "x-user: " + u)
        assert status == 200, body
        assert hv(headers, "x-ratelimit-limit") == ["3, 3;w=86400"]
        assert hv(headers, "x-ratelimit-remaining") == [str(left)]
        reset = int(hv(headers, "x-ratelimit-reset")[0])
        assert 0 < reset <= 86400
        assert hv(headers, "x-envoy-ratelimited") == []
        assert hv(headers, "x-limited-by") == []  # the filter's response_headers_to_add: rate-limited only
    status, headers, body, _ = world.get("main", "/limited", "-H", "x-user: " + u)
    assert status == 429
    assert hv(headers, "x-envoy-ratelimited") == ["true"]
    assert hv(headers, "x-ratelimit-remaining") == ["0"]
    assert hv(headers, "x-limited-by") == [socket.gethostname()]
    # another user has its own budget
    assert world.get("main", "/limited", "-H", "x-user: " + user())[0] == 200


def test_over_limit_spread_over_connections(world):
    """Three allowed per user whatever worker or connection the requests land on."""
    u = user()
    statuses = [world.get("main", "/limited", "-H", "x-user: " + u)[0] for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_virtual_host_limit_and_per_route_switches(world):
    assert world.get("main", "/")[0] == 429  # the virtual host's limit 0
    assert world.get("main", "/ignore")[0] == 200  # RateLimitPerRoute vh_rate_limits: IGNORE
    assert world.get("main", "/off")[0] == 200  # FilterConfig disabled: true
    assert world.get("main", "/stage1")[0] == 200  # stage 1 only: the stage-0 filter makes no call
    assert world.get("main", "/nodesc")[0] == 200  # no x-user: no descriptor, no call


def test_service_headers_body_and_per_route_domain(world):
    u = user()
    status, headers, body, _ = world.get("main", "/h", "-H", "x-user: " + u)
    assert status == 200
    assert hv(headers, "x-rl-stub") == ["yes"]
    assert header_values(echo(body), "x-rl-upstream") == ["tagged"]
    status, headers, body, _ = world.get("main", "/h", "-H", "x-user: " + u)
    assert status == 429
    assert body == b"slow down\n"
    assert hv(headers, "x-rl-stub") == ["yes"]
    assert hv(headers, "x-envoy-ratelimited") == ["true"]


def test_service_down(world):
    status, _, body, _ = world.get("allow_dead", "/")
    assert status == 200, body
    status, headers, _, _ = world.get("deny_dead", "/")
    assert status == 500
    assert hv(headers, "x-envoy-ratelimited") == []
    assert world.get("no_cluster", "/")[0] == 503  # status_on_error, the cluster is unknown


def test_slow_service_timeout_honoured(world):
    status, _, _, took = world.get("slow_allow", "/")
    assert status == 200
    assert 0.15 < took < 1.2, took  # the 0.2 s timeout, not the service's 1.5 s
    status, _, _, took = world.get("slow_deny", "/")
    assert status == 500
    assert 0.15 < took < 1.2, took
    status, _, _, took = world.get("slow_long", "/")
    assert status == 200
    assert took >= 1.4, took  # a 5 s timeout waits for the answer


def test_client_gone_while_check_in_flight(world):
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", world.ports["slow_long"]))
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)
        s.close()
    time.sleep(2.0)  # the late answers arrive after their streams are gone
    assert world.get("main", "/ignore")[0] == 200


def grpc_call(world, name):
    out = subprocess.run(["curl", "-s", "-S", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null",
                          "-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "",
                          "http://127.0.0.1:%d/" % world.ports[name]], capture_output=True, timeout=30)
    status, _, headers, _ = parse_head(out.stdout.decode("latin-1"))
    return status, headers


def test_grpc_request_over_limit(world):
    status, headers = grpc_call(world, "main")
    assert status == 200
    assert hv(headers, "grpc-status") == ["14"]  # UNAVAILABLE, as Envoy without rate_limited_as_resource_exhausted
    assert hv(headers, "x-envoy-ratelimited") == ["true"]
    status, headers = grpc_call(world, "exhausted")
    assert status == 200
    assert hv(headers, "grpc-status") == ["8"]  # RESOURCE_EXHAUSTED
    assert hv(headers, "x-envoy-ratelimited") == ["true"]


def test_service_answering_nonsense_is_an_error(world):
    if not world.have_fakes:
        pytest.skip("python3-grpcio is not installed")
    for name in ("garbage", "unknown"):
        status, headers, _, _ = world.get(name, "/")
        assert status == 500, name  # failure_mode_deny: status_on_error
        assert hv(headers, "x-envoy-ratelimited") == []


def test_body_waits_for_the_check(world):
    """A POST body that arrives while the check is in flight reaches the upstream whole."""
    body = os.urandom(100000)
    src = os.path.join(world.tmp, "post.bin")
    with open(src, "wb") as f:
        f.write(body)
    status, _, resp, _ = world.get("main", "/limited", "-H", "x-user: " + user(), "--data-binary", "@" + src)
    assert status == 200
    assert echo(resp)["body_len"] == len(body)


def test_concurrent_requests_get_exactly_the_limit(world):
    """Twelve requests at once over separate connections (both workers, HTTP/1.1
    and HTTP/2): the service's count decides, exactly three pass."""
    u = user()
    results = []

    def one(i):
        args = ["-H", "x-user: " + u] + (["--http2-prior-knowledge"] if i % 2 else [])
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"] + args
                             + ["http://127.0.0.1:%d/limited" % world.ports["main"]], capture_output=True, timeout=30)
        results.append(out.stdout.decode())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["200"] * 3 + ["429"] * 9


def test_google_grpc_target_uri(world):
    status, headers, _, _ = world.get("uri", "/")
    assert status == 429  # the service was reached through the URI: limit 0
    assert hv(headers, "x-envoy-ratelimited") == ["true"]


def test_cluster_hosts_change_rebuilds_the_channel(world):
    """The service's EDS endpoint moves from a dead port to the service: the
    next checks reach it (failure_mode_deny: 500 before, 200 after), and back."""
    assert world.get("eds", "/")[0] == 500
    world.move_rls_eds(world.stub_port)
    wait_until(lambda: world.get("eds", "/")[0] == 200, 10, "checks reach the moved service")
    world.move_rls_eds(None)  # no host at all: a service error too
    wait_until(lambda: world.get("eds", "/")[0] == 500, 10, "checks fail once the service has no host")
    world.move_rls_eds(world.stub_port)
    wait_until(lambda: world.get("eds", "/")[0] == 200, 10, "checks reach the service again")
    world.move_rls_eds(harness.free_port())
    wait_until(lambda: world.get("eds", "/")[0] == 500, 10, "checks fail once the service moved away")


def test_request_type(world):
    assert world.get("internal", "/")[0] == 200  # an external request: no call
    assert world.get("internal_trusted", "/")[0] == 429  # internal: checked
    assert world.get("external_trusted", "/")[0] == 200  # internal, the filter wants external ones


def test_one_service_reached_in_different_ways_keeps_calls_alive(world):
    """Checks through filters that reach one service with and without an
    :authority, and through a target_uri spelled like a cluster name, all at
    once: each way keeps its own channel. (Closing a channel whenever another
    way was asked for failed the calls still waiting on it, here 500s with
    failure_mode_deny.)"""
    names = ("via_plain", "via_auth", "via_named", "via_uri")
    results = []

    def one(name):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              "http://127.0.0.1:%d/" % world.ports[name]], capture_output=True, timeout=30)
        results.append((name, out.stdout.decode()))

    for _ in range(6):
        threads = [threading.Thread(target=one, args=(names[i % 4],)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [r for r in results if r[1] != "200"] == []
    assert len(results) == 72


def test_service_headers_a_service_may_not_set(world):
    status, headers, body, _ = world.get("hdrs", "/")
    assert status == 200, body
    got = echo(body)
    assert header_values(got, "x-rl-ok") == ["yes"]
    assert header_values(got, "x-rl-case") == ["Mixed"]
    assert header_values(got, "host") == ["127.0.0.1:%d" % world.ports["hdrs"]]
    assert header_values(got, "transfer-encoding") == []
    assert header_values(got, "te") == []
    assert header_values(got, "connection") == []
    assert hv(headers, "x-rl-resp") == ["yes"]
    assert hv(headers, "upgrade") == [] and hv(headers, "keep-alive") == []
    assert hv(headers, "transfer-encoding") == []
    assert hv(headers, "content-length") == [str(len(body))]


def test_too_many_service_headers_is_a_service_error(world):
    status, headers, _, _ = world.get("toomany", "/")
    assert status == 500  # failure_mode_deny: status_on_error
    assert hv(headers, "x-n0") == []


def test_failing_service_is_a_rate_limited_warning(world):
    """An unknown cluster fails open or closed on every request, but the log
    gets one warning naming it per interval, not one per request."""
    def warnings():
        return [line for line in world.gate.proc.stderr().splitlines()
                if " warn " in line and "nowhere" in line]
    for _ in range(2):
        assert world.get("no_cluster", "/")[0] == 503
    wait_until(lambda: warnings(), 5, "a warning naming the cluster")
    assert "not configured" in warnings()[0]
    before = len(warnings())
    for _ in range(20):
        assert world.get("no_cluster", "/")[0] == 503
    assert len(warnings()) - before <= 1


def test_answer_after_the_response_started_is_ignored(world):
    """HTTP/2, the request body never comes: the connection manager's request
    timeout answers 408 while the check is in flight, and the client's zero
    window holds that reply's body. The service's OVER_LIMIT arriving later
    must not reset the reply on its way: once the window opens the client
    gets the 408 whole."""
    sock = socket.create_connection(("127.0.0.1", world.ports["late"]), timeout=10)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    c.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", "t"), (":path", "/")])
    sock.sendall(c.data_to_send())
    status, body, ended, reset = None, b"", False, None

    def pump(until):
        nonlocal status, body, ended, reset
        while time.monotonic() < until and not ended and reset is None:
            sock.settimeout(max(0.01, until - time.monotonic()))
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = dict(ev.headers)[":status"]
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended = True
                elif isinstance(ev, h2.events.StreamReset):
                    reset = ev.error_code
            sock.sendall(c.data_to_send())

    try:
        pump(time.monotonic() + 2.0)  # past the 408 (0.3 s) and the service's answer (1 s)
        assert status == "408" and reset is None and not ended, (status, reset, ended)
        c.increment_flow_control_window(65535, stream_id=1)
        sock.sendall(c.data_to_send())
        pump(time.monotonic() + 5.0)
        assert reset is None, reset
        assert ended
        assert body == b"request timeout"
    finally:
        sock.close()
