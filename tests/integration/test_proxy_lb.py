"""Load balancing through the real xdsgate (proxy_lb.yaml) over four echo
upstreams a..d: round robin rotates, weights 3:1 give 3:1, random spreads,
least request keeps away from a slow host, ring hash and Maglev (given as a
load_balancing_policy extension) keep a key on one upstream for every hash
policy kind: header, cookie (a generated cookie with Max-Age, Path and
attributes comes back on the response, and a client that keeps it stays put),
source IP (from x-forwarded-for) and query parameter; priorities fail over
and spill over when EDS marks P0 endpoints UNHEALTHY, panic mode uses
unhealthy hosts (and threshold 0 turns it off), locality weights split 1:3;
invalid LB config is NACKed naming the field while the old config serves."""
import copy
import http.client
import http.server
import json
import os
import re
import socketserver
import threading
import time

import pytest
import yaml

import harness
from proxy_env import echo, start_upstream
from test_proxy_match import snapshot_world
from xds_env import CDS, EDS, RDS, Gate, Stub, render, write_atomic

NAMES = "abcd"


class SlowHandler(http.server.BaseHTTPRequestHandler):
    """An upstream that answers {"server": "slow"} after the server's delay."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        time.sleep(self.server.delay)
        body = json.dumps({"server": "slow", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SlowServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    slow = SlowServer(("127.0.0.1", 0), SlowHandler)
    slow.delay = 3.0
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        subst = {"UP_" + n.upper(): start_upstream(procs, "http", n) for n in NAMES}
        subst["SLOW"] = slow.server_address[1]
        subst["DEAD"] = harness.free_port()
        w = snapshot_world(procs, tmp_path_factory.mktemp("world"), "proxy_lb.yaml", subst)
        w.subst, w.procs_, w.tmp_factory = subst, procs, tmp_path_factory
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()
        slow.shutdown()
        slow.server_close()


def get(world, path, *args):
    """(status, [(header, value)...], body) of path on a fresh connection (curl)."""
    status, _, pairs, _, body = world.curl(path, *args)
    return status, pairs, body


def server(world, path, *args):
    """The upstream that answered path on a fresh connection."""
    status, _, body = get(world, path, *args)
    assert status == 200, (path, status, body[:200])
    return echo(body)["server"]


def servers_on_one_connection(world, path, n, headers=None):
    """The upstreams that answered n requests on one keep-alive connection (one worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=20)
    got = []
    try:
        for _ in range(n):
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (path, r.status, body[:200])
            got.append(echo(body)["server"])
    finally:
        conn.close()
    return got


def counts(names):
    return {n: names.count(n) for n in sorted(set(names))}


# --- policies ---

def test_round_robin_rotates_over_every_host(world):
    got = servers_on_one_connection(world, "/rr", 40)
    assert counts(got) == {n: 10 for n in NAMES}, got
    assert got[:4] == got[4:8]  # a fixed rotation


def test_weights_3_to_1(world):
    c = counts(servers_on_one_connection(world, "/weighted", 400))
    assert set(c) == {"a", "b"} and abs(c["a"] - 300) <= 3, c


def test_random_spreads_over_every_host(world):
    c = counts(servers_on_one_connection(world, "/random", 200))
    assert set(c) == set(NAMES) and all(20 <= v <= 80 for v in c.values()), c  # 50 each, sd ~6


def test_least_request_keeps_away_from_a_slow_host(world, procs, tmp_path):
    # One worker, so all requests share one view of active requests: requests
    # start 75 ms apart and the slow host holds each of its own for 3 s. Round
    # robin would send it 10 of 20; least request (5 choices) about 1.
    port = harness.free_port()
    doc = yaml.safe_load(render("proxy_lb.yaml", dict(world.subst, LISTEN=port)))
    path = os.path.join(str(tmp_path), "snapshot.yaml")
    write_atomic(path, yaml.safe_dump(doc, sort_keys=False))
    stub = Stub(procs, path)
    gate = Gate(procs, stub.port, "sotw", ["--concurrency", "1"])
    gate.wait_ready()
    harness.wait_port(port)
    got, threads = [], []

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/lr/%d" % i)
        r = conn.getresponse()
        got.append((r.status, echo(r.read())["server"]))
        conn.close()

    for i in range(20):
        t = threading.Thread(target=one, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.075)
    for t in threads:
        t.join(30)
    assert len(got) == 20 and all(s == 200 for s, _ in got), got
    slow = sum(1 for _, n in got if n == "slow")
    assert slow <= 6, got
    gate.stop_clean()


# --- hash policies ---

def assert_pinned(world, request, keys=16, repeat=3):
    """request(key, i) -> (path, curl args): each key always reaches the same
    upstream over fresh connections (both workers agree), and the keys spread."""
    seen = {}
    for k in range(keys):
        for i in range(repeat):
            path, args = request(k, i)
            seen.setdefault(k, set()).add(server(world, path, *args))
    assert all(len(s) == 1 for s in seen.values()), seen
    assert len(set().union(*seen.values())) >= 3, seen


def test_ring_hash_header_keeps_each_user_on_one_host(world):
    assert_pinned(world, lambda u, i: ("/ring/header", ["-H", "x-user: user-%d" % u]))


def test_ring_hash_without_a_hash_is_random(world):
    got = {server(world, "/ring/none") for _ in range(24)}
    assert len(got) >= 2, got


def set_cookie_of(headers):
    return [v for k, v in headers if k == "set-cookie"]


def test_generated_cookie_comes_back_and_pins_the_client(world):
    status, pairs, body = get(world, "/ring/cookie/x")
    assert status == 200
    cookies = set_cookie_of(pairs)
    assert len(cookies) == 1, pairs
    m = re.fullmatch(r'sticky="([0-9a-f]{16})"; Max-Age=60; Path=/ring; SameSite=Strict; HttpOnly', cookies[0])
    assert m, cookies
    first = echo(body)["server"]
    # sent back: the same host every time, and no new cookie
    for _ in range(6):
        status, pairs, body = get(world, "/ring/cookie/y", "-H", 'cookie: sticky="%s"' % m.group(1))
        assert status == 200 and echo(body)["server"] == first and set_cookie_of(pairs) == []
    # a client with a cookie jar is pinned from its first request on
    jar = os.path.join(world.tmp, "jar")
    jarred = set()
    for i in range(6):
        status, _, body = get(world, "/ring/cookie/jar", "-c", jar, "-b", jar)
        jarred.add(echo(body)["server"])
    assert len(jarred) == 1, jarred
    # other cookie values land elsewhere, each consistently
    assert_pinned(world, lambda v, i: ("/ring/cookie/z", ["-H", "cookie: a=b; sticky=v%d" % v]), 12, 2)


def test_retry_with_previous_hosts_leaves_the_hashed_host(world):
    # Keys that hash to the dead endpoint fail to connect; the retry's re-picks
    # (previous_hosts, host_selection_retry_max_attempts 10) step along the
    # ring to another host instead of landing on the same one again (a key
    # stays stuck only if ten ring entries in a row are the dead host's).
    retried = 0
    for u in range(24):
        status, pairs, body = get(world, "/ring/retry", "-H", "x-user: r%d" % u)
        assert status == 200, (u, status, body[:200])
        retried += int(dict(pairs).get("x-envoy-attempt-count", "1")) > 1
    assert retried > 0  # some keys did start on the dead host


def test_no_cookie_is_generated_for_a_cluster_that_does_not_hash(world):
    status, pairs, _ = get(world, "/rr-cookie")
    assert status == 200 and set_cookie_of(pairs) == [], pairs


def test_source_ip_keeps_each_client_on_one_host(world):
    assert_pinned(world, lambda c, i: ("/ring/ip", ["-H", "x-forwarded-for: 198.51.100.%d" % c]))


def test_query_parameter_keeps_each_value_on_one_host(world):
    assert_pinned(world, lambda u, i: ("/ring/query?x=%d&user=u%d" % (i, u), []))


def test_maglev_from_load_balancing_policy(world):
    # the first entry (google.protobuf.Empty) is skipped, Maglev wins over Random
    assert_pinned(world, lambda u, i: ("/maglev/header", ["-H", "x-user: m%d" % u]))


# --- priorities, panic, localities ---

def set_prio(world, eps_by_priority):
    """Pushes the prio assignment: {priority: [(name, health_status or None)]} (when it changes)."""
    cla = world.find("ClusterLoadAssignment", "prio")
    before = copy.deepcopy(cla["endpoints"])
    cla["endpoints"] = []
    for p, eps in sorted(eps_by_priority.items()):
        lbe = []
        for name, health in eps:
            e = {"endpoint": {"address": {"socket_address": {
                "address": "127.0.0.1", "port_value": world.subst["UP_" + name.upper()]}}}}
            if health:
                e["health_status"] = health
            lbe.append(e)
        cla["endpoints"].append({"priority": p, "lb_endpoints": lbe})
    if cla["endpoints"] != before:
        world.push("ClusterLoadAssignment")


def test_priorities_fail_over_and_spill_over(world):
    try:
        assert {server(world, "/prio") for _ in range(12)} <= {"a", "b"}
        # every P0 endpoint UNHEALTHY: P1 takes everything
        set_prio(world, {0: [("a", "UNHEALTHY"), ("b", "UNHEALTHY")], 1: [("c", None), ("d", None)]})
        assert {server(world, "/prio") for _ in range(12)} == {"c", "d"}
        # half of P0 healthy: health 140 x 1/2 = 70 %, the other 30 % spill to P1
        set_prio(world, {0: [("a", "UNHEALTHY"), ("b", None)], 1: [("c", None), ("d", None)]})
        c = counts(servers_on_one_connection(world, "/prio", 300))
        assert "a" not in c and 0.6 <= c["b"] / 300 <= 0.8, c
        assert c.get("c", 0) + c.get("d", 0) >= 30, c
        # back to healthy: P0 only
        set_prio(world, {0: [("a", None), ("b", None)], 1: [("c", None), ("d", None)]})
        assert counts(servers_on_one_connection(world, "/prio", 20)) == {"a": 10, "b": 10}
    finally:
        set_prio(world, {0: [("a", None), ("b", None)], 1: [("c", None), ("d", None)]})


def test_panic_uses_unhealthy_hosts_unless_disabled(world):
    cluster = world.find("Cluster", "prio")
    try:
        # one priority, 1 of 4 healthy (25 % < the 50 % threshold): every host serves
        set_prio(world, {0: [("a", None), ("b", "UNHEALTHY"), ("c", "UNHEALTHY"), ("d", "DRAINING")]})
        assert counts(servers_on_one_connection(world, "/prio", 40)) == {n: 10 for n in NAMES}
        # healthy_panic_threshold 0: only the healthy one
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": 0}}
        world.push("Cluster")
        assert counts(servers_on_one_connection(world, "/prio", 20)) == {"a": 20}
        # and none healthy: 503 no healthy upstream
        set_prio(world, {0: [("a", "UNHEALTHY")]})
        status, _, body = get(world, "/prio")
        assert (status, body) == (503, b"no healthy upstream")
    finally:
        cluster.pop("common_lb_config", None)
        world.push("Cluster")
        set_prio(world, {0: [("a", None), ("b", None)], 1: [("c", None), ("d", None)]})


def test_locality_weights_1_to_3(world):
    c = counts(servers_on_one_connection(world, "/locality", 400))
    assert abs(c["a"] - 100) <= 3 and abs(c["b"] - 150) <= 3 and abs(c["c"] - 150) <= 3, c


# --- bad config ---

@pytest.mark.parametrize("kind,edit,message", [
    (CDS, lambda w: w.find("Cluster", "ring").update(ring_hash_lb_config={"minimum_ring_size": 0}),
     "ring_hash_lb_config.minimum_ring_size: must be at least 1"),
    (CDS, lambda w: w.find("Cluster", "ring").update(lb_policy="MAGLEV", maglev_lb_config={"table_size": 65536},
                                                     ring_hash_lb_config=None),
     "maglev_lb_config.table_size: must be a prime number, got 65536"),
    (CDS, lambda w: w.find("Cluster", "ring").update(lb_policy="CLUSTER_PROVIDED"),
     "lb_policy: CLUSTER_PROVIDED is not supported"),
    (RDS, lambda w: w.find("RouteConfiguration", "lb")["virtual_hosts"][0]["routes"][4]["route"].update(
        hash_policy=[{"filter_state": {"key": "k"}}]), "hash_policy[0].filter_state: not supported"),
])
def test_invalid_lb_config_is_nacked_and_the_old_one_serves(world, kind, edit, message):
    saved = copy.deepcopy(world.doc)
    n_before = len(world.stub.events("nack", type_url=kind))
    try:
        edit(world)
        for r in world.doc["resources"]:  # an edit drops a field by setting it to None
            for k in [k for k, v in r.items() if v is None]:
                del r[k]
        world.save()
        nack = world.stub.wait_event("nack", type_url=kind, count=n_before + 1, timeout=30)[-1]
        assert message in nack["error_message"], nack
    finally:
        world.doc = saved
        world.push(kind.rsplit(".", 1)[1])
    assert len({server(world, "/ring/header", "-H", "x-user: nack") for _ in range(3)}) == 1
