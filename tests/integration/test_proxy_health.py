"""Active health checking and outlier detection through the real xdsgate
(proxy_health.yaml): hosts failing HTTP/1.1, HTTP/2, TCP (send/receive and
connect-only) and gRPC checks leave the rotation and come back when they
pass again; the checks carry Envoy's headers; consecutive 5xx eject a host
promptly and it returns after base_ejection_time; max_ejection_percent caps
ejections; GET /clusters shows the flags; health state survives config
updates; new hosts wait for their first check; a cluster whose hosts all
fail its checks falls back to panic routing; invalid health check config
is NACKed."""
import json
import os
import re
import time

import pytest

import harness
from proxy_env import PY, echo, start_upstream
from test_proxy_match import snapshot_world
from test_proxy_tls import Pki
from test_proxy_upstream_tls import start_https
from xds_env import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LONG = 30  # seconds: generous, the machine is shared; outcomes are asserted, never durations


def start_on(procs, kind, name, port):
    """An upstream of upstreams.py on a given port (to restart one where it was); its Proc."""
    p = procs.start([PY, os.path.join(HERE, "upstreams.py"), kind, str(port), name], name="up-" + name)
    p.wait_output("listening", stream="stdout", timeout=15)
    return p


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    try:
        subst = {}
        for k in ("A", "B", "C", "E1", "E2", "E3", "F1", "F2", "F3", "Q1", "Q2", "Q3", "P1", "P2"):
            subst[k] = start_upstream(procs, "http", k.lower())
        subst["H2"] = start_upstream(procs, "h2echo", "h2")
        subst["G"] = start_upstream(procs, "grpchealth", "g")
        pki = Pki(str(tmp_path_factory.mktemp("pki")))
        subst["T"] = start_https(procs, "t", pki, pki.cert("a"), pki.key("a"), "--alpn", "h2,http/1.1")
        subst["CA"] = pki.ca
        subst["EVLOG"] = os.path.join(str(tmp_path_factory.mktemp("evlog")), "hc_http.log")
        subst["D"] = harness.free_port()
        d = start_on(procs, "http", "d", subst["D"])
        w = snapshot_world(procs, tmp_path_factory.mktemp("world"), "proxy_health.yaml", subst)
        w.ports, w.d_proc = subst, d
        yield w
        w.gate.stop_clean()  # SIGTERM after all the checks and traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


# --- helpers ---

def up(world, name, path):
    """GET path directly on upstream name (control paths)."""
    status, body = _get(world.ports[name.upper()], path)
    assert status == 200, (name, path, status, body)
    return body


def _get(port, path):
    import urllib.request
    import urllib.error
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def clusters(world):
    """GET /clusters as {(cluster, host): {stat: value}} plus {(cluster, None): {...}} for cluster lines."""
    status, text = world.gate.get("/clusters")
    assert status == 200, text
    out = {}
    for line in text.splitlines():
        parts = line.split("::")
        if len(parts) == 4:
            out.setdefault((parts[0], parts[1]), {})[parts[2]] = parts[3]
        elif len(parts) >= 3:
            out.setdefault((parts[0], None), {})["::".join(parts[1:-1])] = parts[-1]
    return out


def flags(world, cluster, name):
    return clusters(world).get((cluster, "127.0.0.1:%d" % world.ports[name.upper()]), {}).get("health_flags")


def wait_flags(world, cluster, name, want, timeout=LONG):
    """Waits until the host's health_flags (from /clusters) satisfy want (a string or a predicate)."""
    ok = want if callable(want) else (lambda f: f == want)
    return wait_until(lambda: ok(flags(world, cluster, name) or ""), timeout,
                      "%s %s health_flags %s (now %r); log tail:\n%s" % (
                          cluster, name, want, flags(world, cluster, name), world.gate.proc.stderr()[-2000:]))


def servers(world, path, n):
    """The upstream names (or HTTP statuses for failures) that n requests to path reached."""
    got = []
    for _ in range(n):
        status, _, _, _, body = world.curl(path)
        got.append(echo(body)["server"] if status == 200 else status)
    return got


def grpc_control(world, method, arg=b""):
    import grpc
    with grpc.insecure_channel("127.0.0.1:%d" % world.ports["G"]) as ch:
        return ch.unary_unary("/xg.HealthControl/" + method)(arg, timeout=10)


# --- active health checking ---

def test_http_checks_carry_envoys_headers_and_new_hosts_serve_after_passing(world):
    wait_until(lambda: set(servers(world, "/http/x", 6)) == {"a", "b"}, LONG, "both hosts in rotation")
    last = json.loads(up(world, "a", "/__health/last"))
    hdr = {k: v for k, v in last["headers"]}
    assert last["method"] == "GET" and last["path"] == "/__health"
    assert hdr["host"] == "hc.example"  # http_health_check.host
    assert hdr["user-agent"] == "Envoy/HC"
    assert hdr["x-hc"] == "xdsgate"  # request_headers_to_add
    assert last["count"] >= 1
    assert flags(world, "hc_http", "a") == "healthy"


def test_http_unhealthy_host_leaves_rotation_and_returns(world):
    wait_flags(world, "hc_http", "a", "healthy")
    up(world, "a", "/__health/set/503")
    try:
        wait_flags(world, "hc_http", "a", "/failed_active_hc")
        assert set(servers(world, "/http/x", 12)) == {"b"}
        c = clusters(world)[("hc_http", "127.0.0.1:%d" % world.ports["A"])]
        assert int(c["hc_failure"]) >= 1 and int(c["hc_success"]) >= 1
    finally:
        up(world, "a", "/__health/set/200")
    wait_flags(world, "hc_http", "a", "healthy")
    wait_until(lambda: "a" in servers(world, "/http/x", 6), LONG, "a back in rotation")


def test_event_log_records_the_transitions(world):
    # the previous test took a out and back: Envoy's HealthCheckEvent JSON lines
    with open(world.ports["EVLOG"]) as f:
        events = [json.loads(line) for line in f]
    a = [e for e in events if e["host"]["socket_address"]["port_value"] == world.ports["A"]]
    assert all(e["cluster_name"] == "hc_http" and e["health_checker_type"] == "HTTP" for e in a)
    assert a[0]["add_healthy_event"] == {"first_check": True}  # new hosts start failed: the first check adds it
    assert {"failure_type": "ACTIVE"} in [e.get("eject_unhealthy_event") for e in a]  # 503: a wrong answer
    assert {"first_check": False} in [e.get("add_healthy_event") for e in a]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", a[0]["timestamp"])


def test_http2_check_uses_http2(world):
    # hc_h2 checks the h2c-only upstream over HTTP/2: healthy, traffic flows.
    wait_flags(world, "hc_h2", "h2", "healthy")
    status, _, _, _, body = world.curl("/h2hc/x")
    assert status == 200 and echo(body)["version"] == "HTTP/2"
    # hc_h1_on_h2 checks the same upstream over HTTP/1.1: it never passes.
    time.sleep(2)
    assert flags(world, "hc_h1_on_h2", "h2") == "/failed_active_hc"
    status, _, _, _, body = world.curl("/h1onh2/x")
    assert (status, body) == (503, b"no healthy upstream")


def test_tcp_check_sends_and_matches_payloads(world):
    wait_flags(world, "hc_tcp", "c", "healthy")
    assert echo(world.curl("/tcp/x")[4])["server"] == "c"
    last = json.loads(up(world, "c", "/__health/last"))
    assert last["path"] == "/__health" and dict(last["headers"])["host"] == "t"  # the send payload arrived
    up(world, "c", "/__health/set/500")  # "HTTP/1.1 200" no longer comes back: the check times out
    try:
        wait_flags(world, "hc_tcp", "c", lambda f: f.startswith("/failed_active_hc"))
        status, _, _, _, body = world.curl("/tcp/x")
        assert (status, body) == (503, b"no healthy upstream")
    finally:
        up(world, "c", "/__health/set/200")
    wait_flags(world, "hc_tcp", "c", "healthy")
    assert world.curl("/tcp/x")[0] == 200


def test_tcp_connect_check_follows_the_listener(world):
    wait_flags(world, "hc_tcpc", "d", "healthy")
    assert echo(world.curl("/tcpconnect/x")[4])["server"] == "d"
    world.d_proc.stop()  # connections refused from now on
    wait_flags(world, "hc_tcpc", "d", "/failed_active_hc")
    status, _, _, _, body = world.curl("/tcpconnect/x")
    assert (status, body) == (503, b"no healthy upstream")
    world.d_proc = start_on(world.procs, "http", "d", world.ports["D"])
    wait_flags(world, "hc_tcpc", "d", "healthy")
    assert echo(world.curl("/tcpconnect/x")[4])["server"] == "d"


def test_grpc_check_follows_serving_status(world):
    # xg.Svc is unknown to the server at first: NOT_FOUND fails the check.
    wait_flags(world, "hc_grpc", "g", "/failed_active_hc")
    assert world.curl("/grpc/x")[4] == b"no healthy upstream"
    grpc_control(world, "Set", b"xg.Svc=1")  # SERVING
    wait_flags(world, "hc_grpc", "g", "healthy")
    assert world.curl("/grpc/x")[4] != b"no healthy upstream"
    last = json.loads(grpc_control(world, "Last"))
    assert last["service"] == "xg.Svc"
    assert ["x-md", "from-xdsgate"] in last["metadata"]  # initial_metadata
    grpc_control(world, "Set", b"xg.Svc=2")  # NOT_SERVING: unhealthy at once
    wait_flags(world, "hc_grpc", "g", "/failed_active_hc")
    assert world.curl("/grpc/x")[4] == b"no healthy upstream"
    grpc_control(world, "Set", b"xg.Svc=1")
    wait_flags(world, "hc_grpc", "g", "healthy")


def test_checks_follow_the_clusters_tls(world):
    wait_flags(world, "hc_tls", "t", "healthy")
    d = echo(world.curl("/tls/x")[4])
    assert d["server"] == "t" and d["tls"]["sni"] == "a.test"
    # the checks themselves came over TLS, with the cluster's SNI and an HTTP/1.1 ALPN
    status, body = _get_tls_last(world)
    assert body["tls"]["sni"] == "a.test" and body["tls"]["alpn"] == "http/1.1"
    assert body["path"] == "/__health"
    # HTTP/2 checks with tls_options.alpn_protocols [h2] pass against the h2 side of the server
    wait_flags(world, "hc_tls_h2", "t", "healthy")
    # the cluster expecting SAN b.test never completes a handshake: never healthy
    time.sleep(2)
    assert flags(world, "hc_tls_wrong", "t") == "/failed_active_hc"


def _get_tls_last(world):
    """/__health/last of the TLS upstream, fetched through hc_tls (the proxy does the TLS)."""
    status, _, _, _, body = world.curl("/tls/__health/last")
    assert status == 200, body
    return status, json.loads(body)


def test_all_hosts_failing_checks_means_panic_routing(world):
    wait_flags(world, "hc_panic", "p1", "healthy")
    wait_flags(world, "hc_panic", "p2", "healthy")
    up(world, "p1", "/__health/set/503")
    up(world, "p2", "/__health/set/503")
    try:
        wait_flags(world, "hc_panic", "p1", "/failed_active_hc")
        wait_flags(world, "hc_panic", "p2", "/failed_active_hc")
        # Envoy: below healthy_panic_threshold (50%) every host takes traffic again
        assert set(servers(world, "/panic/x", 6)) == {"p1", "p2"}
    finally:
        up(world, "p1", "/__health/set/200")
        up(world, "p2", "/__health/set/200")
    wait_flags(world, "hc_panic", "p1", "healthy")


# --- outlier detection ---

def drive(world, path, until, what, limit=400):
    """Sends requests to path until until() holds; returns the statuses seen."""
    seen = []
    deadline = time.monotonic() + LONG
    while not until():
        assert len(seen) < limit and time.monotonic() < deadline, "%s: %s; log tail:\n%s" % (
            what, seen[-20:], world.gate.proc.stderr()[-2000:])
        seen.append(world.curl(path)[0])
    return seen


def test_consecutive_5xx_ejects_and_the_host_returns(world):
    up(world, "e1", "/__fail/set/500")
    try:
        drive(world, "/od/x", lambda: flags(world, "od", "e1") == "/failed_outlier_check", "e1 ejected")
        assert set(servers(world, "/od/x", 12)) == {"e2", "e3"}
    finally:
        up(world, "e1", "/__fail/set/0")
    # base_ejection_time 3 s, checked each 1 s interval: back in rotation
    wait_flags(world, "od", "e1", "healthy")
    wait_until(lambda: "e1" in servers(world, "/od/x", 6), LONG, "e1 back in rotation")
    c = clusters(world)
    assert c[("od", "127.0.0.1:%d" % world.ports["E1"])]["outlier_ejections"] == "1"
    assert int(c[("od", "127.0.0.1:%d" % world.ports["E1"])]["rq_error"]) >= 3


def test_consecutive_errors_eject_without_waiting_for_the_interval(world):
    # od_prompt's interval is 60 s: an ejection inside this test came from the run reports.
    up(world, "q1", "/__fail/set/503")
    try:
        seen = drive(world, "/odprompt/x", lambda: flags(world, "od_prompt", "q1") == "/failed_outlier_check",
                     "q1 ejected")
        assert seen.count(503) <= 12, seen  # about 3 (consecutive_5xx), whatever the worker spread
        assert set(servers(world, "/odprompt/x", 12)) == {"q2", "q3"}
    finally:
        up(world, "q1", "/__fail/set/0")


def test_route_timeouts_count_toward_ejection(world):
    up(world, "q2", "/__delay/set/3000")  # q2 never answers within the route timeout (0.4 s)
    try:
        seen = drive(world, "/odtimeout/x", lambda: flags(world, "od_timeout", "q2") == "/failed_outlier_check",
                     "q2 ejected for timeouts")
        assert seen.count(504) >= 3, seen
        assert set(servers(world, "/odtimeout/x", 12)) == {"q1", "q3"}
    finally:
        up(world, "q2", "/__delay/set/0")


def test_max_ejection_percent_caps_ejections(world):
    up(world, "f1", "/__fail/set/500")
    up(world, "f2", "/__fail/set/500")
    try:
        def one_out():
            c = clusters(world)
            return [n for n in ("F1", "F2", "F3")
                    if c[("od_max", "127.0.0.1:%d" % world.ports[n])]["health_flags"] == "/failed_outlier_check"]
        drive(world, "/odmax/x", lambda: len(one_out()) == 1, "one of f1, f2 ejected")
        for _ in range(60):  # keep failing: the other one stays (1 of 3 is 33% <= 34%, 2 would be 67%)
            world.curl("/odmax/x")
        assert len(one_out()) == 1, one_out()
        assert 500 in servers(world, "/odmax/x", 6)  # the failing host that stays still takes traffic
        assert "max_ejection_percent" in world.gate.proc.stderr()
    finally:
        up(world, "f1", "/__fail/set/0")
        up(world, "f2", "/__fail/set/0")


def test_clusters_admin_lines(world):
    status, text = world.gate.get("/clusters")
    assert status == 200
    a = "hc_http::127.0.0.1:%d::" % world.ports["A"]
    for stat in ("health_flags::", "weight::1", "priority::0", "region::", "zone::", "sub_zone::", "canary::false",
                 "success_rate::", "hc_success::"):
        assert a + stat in text, stat
    assert "od::outlier::success_rate_average::" in text
    assert "od::default_priority::max_connections::1024" in text
    assert "od::added_via_api::true" in text
    assert re.search(r"od::127\.0\.0\.1:\d+::outlier_ejections::\d+", text)


# --- config updates ---

def test_health_state_survives_updates_and_new_hosts_wait_for_their_check(world):
    cluster = world.find("Cluster", "hc_http")
    z = start_upstream(world.procs, "http", "z")
    _get(z, "/__health/set/503")  # the new host never passes a check
    up(world, "a", "/__health/set/503")
    try:
        wait_flags(world, "hc_http", "a", "/failed_active_hc")
        cluster["connect_timeout"] = "2s"
        # two of three hosts out would mean panic routing (below 50% healthy): off for this test
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": 0}}
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"].append(
            {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": z}}}})
        world.push("Cluster")
        # a is still out (its state was kept), z never got in (new hosts start failed)
        c = clusters(world)
        assert c[("hc_http", "127.0.0.1:%d" % world.ports["A"])]["health_flags"] == "/failed_active_hc"
        assert c[("hc_http", "127.0.0.1:%d" % z)]["health_flags"] == "/failed_active_hc"
        assert set(servers(world, "/http/x", 12)) == {"b"}
    finally:
        up(world, "a", "/__health/set/200")
        cluster["connect_timeout"] = "1s"
        del cluster["common_lb_config"]
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"].pop()
        world.push("Cluster")
    wait_flags(world, "hc_http", "a", "healthy")


def test_multiple_health_checks_are_nacked(world):
    cluster = world.find("Cluster", "hc_panic")
    n_before = len(world.stub.events("nack", type_url=CDS))
    cluster["health_checks"].append(dict(cluster["health_checks"][0]))
    try:
        world.save()
        nack = world.stub.wait_event("nack", type_url=CDS, count=n_before + 1)[-1]
        assert "health_checks: multiple health checks are not supported" in nack["error_message"], nack
    finally:
        cluster["health_checks"].pop()
        world.push("Cluster")
    assert world.curl("/panic/x")[0] == 200  # the last good config serves on


# --- DNS clusters (dnsmasq on loopback, as test_proxy_dns.py) ---

@pytest.fixture(scope="module")
def dns_world(tmp_path_factory):
    from test_proxy_dns import DNSMASQ, Dnsmasq, free_udp_tcp_port
    if not os.path.exists(DNSMASQ):
        pytest.skip("dnsmasq not installed (deploy/deps.sh)")
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    tmp = str(tmp_path_factory.mktemp("dnsworld"))
    try:
        port = harness.free_port()
        for addr, name in (("127.0.0.2", "x"), ("127.0.0.3", "y")):
            p = procs.start([PY, os.path.join(HERE, "upstreams_ext.py"), "http-at", addr, str(port), name],
                            name="up-" + name)
            p.wait_output("listening", stream="stdout", timeout=15)
        dns = Dnsmasq(procs, tmp, free_udp_tcp_port())
        dns.write({"hc.test": ["127.0.0.2", "127.0.0.3"], "lhc.test": ["127.0.0.2"]})
        dns.start()
        w = snapshot_world(procs, tmp, "proxy_health_dns.yaml", {"DNS": dns.port, "UP": port})
        w.dns, w.up = dns, port
        yield w
        w.gate.stop_clean()
    finally:
        procs.stop_all()


def dns_flags(world, cluster, ip):
    return clusters(world).get((cluster, "%s:%d" % (ip, world.up)), {}).get("health_flags")


def direct(world, ip, path):
    import urllib.request
    with urllib.request.urlopen("http://%s:%d%s" % (ip, world.up, path), timeout=10) as r:
        return r.read()


def test_strict_dns_hosts_are_checked(dns_world):
    w = dns_world
    for ip in ("127.0.0.2", "127.0.0.3"):
        wait_until(lambda: dns_flags(w, "strict", ip) == "healthy", LONG, "%s healthy" % ip)
    assert set(servers(w, "/strict/x", 8)) == {"x", "y"}
    direct(w, "127.0.0.2", "/__health/set/503")
    try:
        wait_until(lambda: dns_flags(w, "strict", "127.0.0.2") == "/failed_active_hc", LONG, "x failed")
        assert set(servers(w, "/strict/x", 8)) == {"y"}
    finally:
        direct(w, "127.0.0.2", "/__health/set/200")
    wait_until(lambda: dns_flags(w, "strict", "127.0.0.2") == "healthy", LONG, "x healthy again")
    wait_until(lambda: "x" in servers(w, "/strict/x", 6), LONG, "x back in rotation")


def test_logical_dns_host_keeps_its_health_when_the_address_moves(dns_world):
    w = dns_world
    wait_until(lambda: dns_flags(w, "logical", "127.0.0.2") == "healthy", LONG, "logical host healthy")
    assert echo(w.curl("/logical/x")[4])["server"] == "x"
    before = int(clusters(w)[("logical", "127.0.0.2:%d" % w.up)]["hc_success"])
    w.dns.write({"hc.test": ["127.0.0.2", "127.0.0.3"], "lhc.test": ["127.0.0.3"]})
    wait_until(lambda: dns_flags(w, "logical", "127.0.0.3") is not None, LONG, "the logical host moved")
    c = clusters(w)[("logical", "127.0.0.3:%d" % w.up)]
    # the same host: never failed on the way, its check count carried over
    assert c["health_flags"] == "healthy" and int(c["hc_success"]) >= before
    assert ("logical", "127.0.0.2:%d" % w.up) not in clusters(w)
    wait_until(lambda: json.loads(direct(w, "127.0.0.3", "/__health/last") or b"null"), LONG,
               "checks reach the new address")
