"""The local rate limit filter (envoy.filters.http.local_ratelimit) through a
real xdsgate with two workers (--concurrency 2) and clients spread over many
connections: a route's limit lets exactly its number of requests through per
window whatever worker serves them, the rest get the configured status with
response_headers_to_add and the x-ratelimit-* headers; the bucket refills
every fill_interval; descriptors from the route's rate_limits get their own
buckets; shadow mode (enabled, not enforced) refuses nothing and marks the
requests over the limit; filter_enabled absent means off; per-connection
buckets; FilterConfig disabled turns the filter off for a route; a limit
changed over xDS takes effect at once while an unrelated bucket keeps its
state; a bad limit is NACKed naming the field.
Snapshot: snapshots/proxy_local_ratelimit.yaml."""
import http.client
import os
import threading
import time

import grpc
import pytest
import yaml

import harness
from proxy_env import echo, header_values, start_upstream
from xds_env import RDS, Gate, Stub, render, write_atomic


class World:
    def __init__(self, procs, tmp):
        self.tmp = str(tmp)
        self.up = start_upstream(procs, "http", "up")
        self.port = harness.free_port()
        self.path = os.path.join(self.tmp, "snapshot.yaml")
        self.doc = yaml.safe_load(render("proxy_local_ratelimit.yaml", {"LISTEN": self.port, "UP": self.up}))
        self.save()
        self.stub = Stub(procs, self.path)
        self.gate = Gate(procs, self.stub.port, "sotw", ["--log-level", "debug"])
        self.gate.wait_ready()
        harness.wait_port(self.port)

    def save(self):
        write_atomic(self.path, yaml.safe_dump(self.doc, sort_keys=False))

    def route(self, prefix):
        rc = [r for r in self.doc["resources"] if r["@type"] == RDS][0]
        return [r for r in rc["virtual_hosts"][0]["routes"] if r["match"]["prefix"] == prefix][0]

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get(self, path, headers=None, conn=None):
        """(status, headers dict, body) of one GET, on conn or a fresh connection."""
        c = conn or self.conn()
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            if conn is None:
                c.close()

    def burst(self, path, n, clients=8, headers=None):
        """n GETs of path from `clients` threads, each on connections of its own
        (a new one every other request): the workers share them. Returns the
        (status, headers, body) list."""
        out, lock = [], threading.Lock()

        def run(k):
            conn = None
            for i in range(k, n, clients):
                if conn is None or i % 2 == 0:
                    if conn is not None:
                        conn.close()
                    conn = self.conn()
                res = self.get(path, headers, conn=conn)
                with lock:
                    out.append(res)
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(out) == n
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = World(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()
    finally:
        procs.stop_all()


def statuses(results):
    return sorted(s for s, _, _ in results)


def test_route_limit_is_exact_across_workers_and_connections(world):
    res = world.burst("/hour", 30, clients=10)
    ok = [r for r in res if r[0] == 200]
    refused = [r for r in res if r[0] != 200]
    assert len(ok) == 7, statuses(res)
    assert {s for s, _, _ in refused} == {503}  # the configured status
    for _, h, body in refused:
        assert body == b"local_rate_limited"
        assert h["x-limited"] == "yes"  # response_headers_to_add, on refused requests only
        assert h["x-ratelimit-limit"] == "7" and h["x-ratelimit-remaining"] == "0"
        assert 0 < int(h["x-ratelimit-reset"]) <= 3600
        assert "x-envoy-ratelimited" not in h  # Envoy's local filter does not set it
    assert sorted(int(h["x-ratelimit-remaining"]) for _, h, _ in ok) == list(range(7))
    for _, h, _ in ok:
        assert "x-limited" not in h and h["x-ratelimit-limit"] == "7"


def test_bucket_refills_every_fill_interval(world):
    c = world.conn()
    got = [world.get("/refill", conn=c)[0] for _ in range(4)]
    assert got[:2] == [200, 200] and 429 in got[2:], got  # 429: the default status
    time.sleep(1.1)  # at least one fill of 2 (more fills are capped at max_tokens 2)
    got = [world.get("/refill", conn=c)[0] for _ in range(3)]
    c.close()
    assert got == [200, 200, 429], got


def test_listener_level_limit_applies_to_routes_without_their_own(world):
    res = world.burst("/plain", 8, clients=4)
    assert statuses(res) == [200] * 3 + [429] * 5
    assert all(h["x-ratelimit-limit"] == "3" for _, h, _ in res)


def test_descriptors_have_their_own_buckets(world):
    gold = world.burst("/desc", 6, clients=3, headers={"x-client": "gold"})
    silver = world.burst("/desc", 4, clients=2, headers={"x-client": "silver"})
    bronze = world.burst("/desc", 6, clients=3, headers={"x-client": "bronze"})  # no descriptor: the default 100
    none = world.burst("/desc", 3, clients=3)  # no header: no descriptor at all
    assert statuses(gold) == [200] * 3 + [429] * 3
    assert statuses(silver) == [200] + [429] * 3
    assert statuses(bronze) == [200] * 6 and statuses(none) == [200] * 3
    assert {h["x-ratelimit-limit"] for _, h, _ in gold} == {"3"}  # the descriptor's bucket decided
    assert {h["x-ratelimit-limit"] for _, h, _ in silver} == {"1"}
    assert {h["x-ratelimit-limit"] for _, h, _ in bronze} == {"100"}


def test_shadow_mode_refuses_nothing_and_marks_requests_over_the_limit(world):
    c = world.conn()
    res = [world.get("/shadow", conn=c) for _ in range(5)]
    c.close()
    assert [s for s, _, _ in res] == [200] * 5
    marks = [header_values(echo(body), "x-rl-shadow") for _, _, body in res]
    assert marks == [[], [], ["over"], ["over"], ["over"]]


def test_filter_enabled_absent_means_off(world):
    res = world.burst("/notenabled", 4, clients=2)
    assert statuses(res) == [200] * 4
    assert all("x-ratelimit-limit" not in h for _, h, _ in res)


def test_per_connection_buckets(world):
    for _ in range(2):
        c = world.conn()
        got = [world.get("/perconn", conn=c)[0] for _ in range(3)]
        c.close()
        assert got == [200, 200, 429], got  # each connection has its own 2


def test_filter_config_disabled_turns_the_filter_off_for_a_route(world):
    res = world.burst("/off", 6, clients=3)
    assert statuses(res) == [200] * 6
    assert all("x-ratelimit-limit" not in h for _, h, _ in res)


def grpc_call(port, method):
    """(status code, details) of a unary call of method (bytes in and out) through xdsgate, over h2c."""
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        call = ch.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            call(b"", timeout=10)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details()


@pytest.mark.parametrize("svc,code", [("Exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED),
                                      ("Unavailable", grpc.StatusCode.UNAVAILABLE)])
def test_grpc_requests_get_a_grpc_status(world, svc, code):
    method = "/lim.%s/Call" % svc
    # the one token: forwarded (the echo upstream is no gRPC server, so the call fails otherwise)
    assert grpc_call(world.port, method)[1] != "local_rate_limited"
    assert grpc_call(world.port, method) == (code, "local_rate_limited")
    assert grpc_call(world.port, method) == (code, "local_rate_limited")


def test_limit_change_over_xds_keeps_unrelated_buckets(world):
    c = world.conn()
    assert [world.get("/keep", conn=c)[0] for _ in range(2)] == [200, 200]  # 1 of 3 left
    assert [world.get("/change", conn=c)[0] for _ in range(3)] == [200, 200, 429]
    c.close()
    n_acks = len(world.stub.events("ack", type_url=RDS))
    cfg = world.route("/change")["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    cfg["token_bucket"]["max_tokens"] = 4
    world.save()
    world.stub.wait_event("ack", type_url=RDS, count=n_acks + 1)
    time.sleep(0.3)  # the workers swap to the new snapshot
    c = world.conn()
    assert [world.get("/change", conn=c)[0] for _ in range(5)] == [200] * 4 + [429]  # the new limit, full
    assert [world.get("/keep", conn=c)[0] for _ in range(2)] == [200, 429]  # not reset by the update
    c.close()


def test_bad_limit_is_nacked_naming_the_field(world):
    n_before = len(world.stub.events("nack", type_url=RDS))
    cfg = world.route("/keep")["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    cfg["token_bucket"]["fill_interval"] = "0.010s"
    try:
        world.save()
        nack = world.stub.wait_event("nack", type_url=RDS, count=n_before + 1)[-1]
        msg = nack["error_message"]
        assert "typed_per_filter_config[\"envoy.filters.http.local_ratelimit\"].token_bucket.fill_interval" in msg, msg
        assert "at least 50ms" in msg, msg
    finally:
        cfg["token_bucket"]["fill_interval"] = "3600s"
        world.save()
    # the previous configuration served on: /keep is still spent
    assert world.get("/keep")[0] == 429
