"""Rate-limit descriptors from route and virtual-host rate_limits, end to end
through the local_ratelimit filter of a real xdsgate (--concurrency 2,
--node-cluster edge-a): each route allows 1 request per hour for the one
descriptor its action should produce and plenty otherwise, so a second
request producing exactly that descriptor is answered 429 while requests
producing another value pass. Covers source_cluster (the node cluster flag
reaches the workers), destination_cluster of a weighted cluster (picked
before the filters run), query_parameters (percent-decoded), remote_address
and masked_remote_address (the trusted x-forwarded-for address; an IPv4
client of a dual-stack listener as IPv4), and the virtual host's rate_limits
for a route without its own.
Snapshot: snapshots/proxy_rl_descriptors.yaml."""
import http.client
import json
import os

import pytest
import yaml

import harness
from proxy_env import start_upstream
from xds_env import Gate, Stub, render, write_atomic


class World:
    def __init__(self, procs, tmp):
        self.up = start_upstream(procs, "http", "up")
        self.port = harness.free_port()
        self.port6 = harness.free_port()
        path = os.path.join(str(tmp), "snapshot.yaml")
        doc = yaml.safe_load(
            render("proxy_rl_descriptors.yaml", {"LISTEN": self.port, "LISTEN6": self.port6, "UP": self.up})
        )
        # through JSON: the template's YAML merge keys become plain copies (no aliases for the stub)
        write_atomic(path, yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False))
        self.stub = Stub(procs, path)
        self.gate = Gate(procs, self.stub.port, "sotw", ["--node-cluster", "edge-a"])
        self.gate.wait_ready()
        harness.wait_port(self.port)
        harness.wait_port(self.port6)

    def status(self, path, headers=None, port=None):
        c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=10)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def statuses(self, path, n, headers=None):
        return [self.status(path, headers) for _ in range(n)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = World(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()
    finally:
        procs.stop_all()


def test_source_cluster_is_the_node_cluster(world):
    assert world.statuses("/src", 3) == [200, 429, 429]


def test_destination_cluster_is_the_weighted_pick(world):
    assert world.statuses("/dst/a", 3, {"x-pick": "0"}) == [200, 200, 200]  # up-a: no such descriptor limit
    assert world.statuses("/dst/b", 3, {"x-pick": "1"}) == [200, 429, 429]  # up-b: 1 per hour
    assert world.status("/dst/a", {"x-pick": "2"}) == 200


def test_query_parameters_are_decoded(world):
    assert world.statuses("/query?user=bob", 2) == [200, 200]
    assert world.status("/query") == 200  # absent, no skip_if_absent: no descriptor
    assert world.status("/query?x=1&user=al%20ice&user=bob") == 200
    assert world.status("/query?user=al%20ice") == 429  # the same decoded value, the first of its name
    assert world.status("/query?user=al%20%69ce") == 429  # another spelling of the same value


def test_remote_address_is_the_trusted_client(world):
    assert world.statuses("/remote", 2, {"x-forwarded-for": "10.1.2.4"}) == [200, 200]
    assert world.statuses("/remote", 2, {"x-forwarded-for": "10.1.2.3"}) == [200, 429]
    assert world.status("/remote") == 200  # the peer, 127.0.0.1


def test_masked_remote_address(world):
    assert world.status("/masked", {"x-forwarded-for": "10.9.8.7"}) == 200
    assert world.status("/masked", {"x-forwarded-for": "10.9.8.200"}) == 429  # the same /24
    assert world.status("/masked", {"x-forwarded-for": "10.9.9.7"}) == 200


def test_virtual_host_rate_limits_for_a_route_without_its_own(world):
    assert world.statuses("/vh", 2) == [200, 429]


def test_ipv4_client_of_a_dual_stack_listener_is_ipv4(world):
    # 127.0.0.1 reaches the [::] ipv4_compat listener as ::ffff:127.0.0.1: as
    # in Envoy it is 127.0.0.1/32 (the v4 mask), not ::/64 shared by every
    # IPv4 client, and the same client as through the IPv4 listener
    assert world.status("/dualstack", port=world.port6) == 200
    assert world.status("/dualstack", port=world.port6) == 429
    assert world.status("/dualstack") == 429
