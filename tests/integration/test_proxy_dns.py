"""DNS clusters through the real xdsgate (snapshot proxy_dns.yaml), resolved
by a real resolver on loopback: Debian's dnsmasq, run unprivileged on a
high port from a hosts file the tests rewrite (then SIGHUP). Echo upstreams
listen on one port at 127.0.0.2 ("a"), .3 ("b"), .4 ("c") and .5 ("d").

STRICT_DNS spreads over every address; an added address starts getting
traffic, a removed one stops, and an address that stays keeps its pooled
upstream connection (the /peer echo shows the proxy's client port);
auto_host_rewrite sends the DNS name; LOGICAL_DNS keeps its connection when
the name moves and opens new connections to the new address; the
deprecated dns_resolvers field (with TCP lookups); an answer too big for UDP
is read over TCP; a server turning hostile (garbage, cut-off, looping and
stranger answers) and a resolver that is gone leave the last addresses
serving; resolver settings xdsgate cannot honour are NACKed."""
import http.client
import os
import re
import shutil
import signal
import socket
import time

import pytest

import harness
from proxy_env import PY, echo, header_values
from test_proxy_match import snapshot_world
from xds_env import CDS, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SERVERS = {"127.0.0.2": "a", "127.0.0.3": "b", "127.0.0.4": "c", "127.0.0.5": "d"}

pytestmark = pytest.mark.skipif(not os.path.exists(DNSMASQ), reason="dnsmasq not installed (deploy/deps.sh)")


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq serves both)."""
    for _ in range(50):
        port = harness.free_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise RuntimeError("no free UDP+TCP port")


class Dnsmasq:
    """dnsmasq answering from a hosts file, authoritative for .test (NODATA and
    NXDOMAIN rather than REFUSED), unprivileged, stopped by pid."""

    def __init__(self, procs, workdir, port):
        self.procs, self.port = procs, port
        self.hosts = os.path.join(workdir, "dns-hosts")
        self.pidfile = os.path.join(workdir, "dnsmasq.pid")
        self.proc = None
        self.records = {}

    def write(self, records):
        """records: {name: [ip, ...]}; replaces the file in one rename, then SIGHUP (dnsmasq rereads it)."""
        self.records = {k: list(v) for k, v in records.items()}
        text = "".join("%s %s\n" % (ip, name) for name, ips in records.items() for ip in ips)
        tmp = self.hosts + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.hosts)
        if self.proc is not None and self.proc.alive():
            self.proc.signal(signal.SIGHUP)

    def start(self):
        user = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
        self.proc = self.procs.start([DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                                      "--port", str(self.port), "--listen-address", "127.0.0.1",
                                      "--bind-interfaces", "--user=" + user, "--pid-file=" + self.pidfile,
                                      "--addn-hosts=" + self.hosts, "--local=/test/", "--local-ttl=0",
                                      "--log-queries", "--log-facility=-"], name="dnsmasq")
        self.proc.wait_output(r"read .*dns-hosts", timeout=15)

    def stop(self):
        self.proc.stop()


RECORDS = {"svc.test": ["127.0.0.2", "127.0.0.3"], "logical.test": ["127.0.0.2"], "legacy.test": ["127.0.0.4"],
           "big.test": ["127.0.1.%d" % i for i in range(1, 41)]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    tmp = str(tmp_path_factory.mktemp("world"))
    try:
        up = harness.free_port()
        for addr, name in SERVERS.items():
            p = procs.start([PY, os.path.join(HERE, "upstreams_ext.py"), "http-at", addr, str(up), name],
                            name="up-" + name)
            p.wait_output("listening", stream="stdout", timeout=15)
        dns = Dnsmasq(procs, tmp, free_udp_tcp_port())
        dns.write(RECORDS)
        dns.start()
        evil_port = free_udp_tcp_port()
        evil = procs.start([PY, os.path.join(HERE, "upstreams_ext.py"), "dns-evil", str(evil_port), "127.0.0.5",
                            "3"], name="dns-evil")
        evil.wait_output("listening", stream="stdout", timeout=15)
        w = snapshot_world(procs, tmp, "proxy_dns.yaml", {"DNS": dns.port, "EVIL": evil_port, "UP": up})
        w.dns = dns
        wait_until(lambda: "svc.test resolved to 2" in w.gate.proc.stderr(), 15, "the first answer for svc.test")
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def servers_of(world, path, n=12, conn=None):
    """The echo servers that answered n requests (one keep-alive connection: one worker)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    try:
        got = []
        for _ in range(n):
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (r.status, body)
            got.append(echo(body))
        return got
    finally:
        if own:
            conn.close()


def gate_log_count(world, pattern):
    return len(re.findall(pattern, world.gate.proc.stderr()))


def test_strict_dns_spreads_over_every_address(world):
    assert {d["server"] for d in servers_of(world, "/strict/x")} == {"a", "b"}


def test_auto_host_rewrite_sends_the_dns_name(world):
    d = servers_of(world, "/rewrite/x", n=1)[0]
    assert header_values(d, "host") == ["svc.test"]


def test_added_and_removed_addresses_and_kept_connections(world):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    try:
        before = {d["server"]: d["peer"] for d in servers_of(world, "/strict/peer", 6, conn)}
        assert set(before) == {"a", "b"}
        # an added address starts getting traffic
        n = gate_log_count(world, r"svc\.test resolved to 3 ")
        world.dns.write(dict(RECORDS, **{"svc.test": ["127.0.0.2", "127.0.0.3", "127.0.0.4"]}))
        wait_until(lambda: gate_log_count(world, r"svc\.test resolved to 3 ") > n, 15, "the added address")
        after = servers_of(world, "/strict/peer", 9, conn)
        assert {d["server"] for d in after} == {"a", "b", "c"}
        # the hosts that stayed kept their pooled upstream connections
        for d in after:
            if d["server"] in before:
                assert d["peer"] == before[d["server"]], (before, after)
        # a removed address stops getting traffic
        n = gate_log_count(world, r"svc\.test resolved to 2 ")
        world.dns.write(dict(RECORDS, **{"svc.test": ["127.0.0.3", "127.0.0.4"]}))
        wait_until(lambda: gate_log_count(world, r"svc\.test resolved to 2 ") > n, 15, "the removed address")
        later = servers_of(world, "/strict/peer", 8, conn)
        assert {d["server"] for d in later} == {"b", "c"}
        assert [d["peer"] for d in later if d["server"] == "b"][0] == before["b"]
    finally:
        conn.close()
        world.dns.write(RECORDS)


def test_logical_dns_keeps_its_connection_and_opens_new_ones_to_the_new_address(world):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    try:
        first = servers_of(world, "/logical/peer", 2, conn)
        assert [d["server"] for d in first] == ["a", "a"] and first[0]["peer"] == first[1]["peer"]
        n = gate_log_count(world, r"logical\.test\.? resolved to 1 address: 127\.0\.0\.3")
        world.dns.write(dict(RECORDS, **{"logical.test": ["127.0.0.3"]}))
        wait_until(lambda: gate_log_count(world, r"logical\.test\.? resolved to 1 address: 127\.0\.0\.3") > n, 15,
                   "the logical name's new address")
        # the existing connection is kept (and reused)...
        kept = servers_of(world, "/logical/peer", 2, conn)
        assert [(d["server"], d["peer"]) for d in kept] == [("a", first[0]["peer"])] * 2
        # ...until it closes: the next connection goes to the new address
        servers_of(world, "/logical/close", 1, conn)
        assert {d["server"] for d in servers_of(world, "/logical/peer", 3, conn)} == {"b"}
    finally:
        conn.close()
        world.dns.write(RECORDS)


def test_deprecated_dns_resolvers_field(world):
    """dns_resolvers with use_tcp_for_dns_lookups (TCP itself: test_dns_client.c tcp_when_asked)."""
    assert {d["server"] for d in servers_of(world, "/legacy/x", 3)} == {"c"}
    assert re.search(r"query\[A\] legacy\.test from 127\.0\.0\.1", world.dns.proc.stdout() + world.dns.proc.stderr())


def test_an_answer_too_big_for_udp_is_read_over_tcp(world):
    wait_until(lambda: "big.test. resolved to 40 addresses" in world.gate.proc.stderr(), 15, "40 addresses for big.test")
    assert "the answer for big.test. was truncated; asking again over TCP" in world.gate.proc.stderr()


def test_hostile_dns_answers_leave_the_last_addresses_serving(world):
    wait_until(lambda: "cannot resolve evil.test" in world.gate.proc.stderr(), 20, "the hostile answers")
    time.sleep(1)  # more hostile rounds
    assert world.gate.proc.alive()
    assert {d["server"] for d in servers_of(world, "/evil/x", 3)} == {"d"}


def test_unsupported_resolver_settings_are_nacked(world):
    n_before = len(world.stub.events("nack", type_url=CDS))
    cl = world.find("Cluster", "legacy")
    saved = dict(cl)
    cl["typed_dns_resolver_config"] = {
        "name": "envoy.network.dns_resolver.cares",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3."
                                  "CaresDnsResolverConfig",
                         "resolvers": [{"socket_address": {"address": "dns.example", "port_value": 53}}]}}
    try:
        world.save()
        nack = world.stub.wait_event("nack", type_url=CDS, count=n_before + 1)[-1]
        assert ("typed_dns_resolver_config.typed_config.resolvers[0].socket_address.address: \"dns.example\" is "
                "not an IP address") in nack["error_message"], nack
    finally:
        cl.clear()
        cl.update(saved)
        world.save()
    assert {d["server"] for d in servers_of(world, "/legacy/x", 2)} == {"c"}


def test_resolver_gone_the_last_addresses_keep_serving(world):
    """Last: it stops the resolver."""
    world.dns.stop()
    wait_until(lambda: "cannot resolve svc.test" in world.gate.proc.stderr(), 30, "lookups failing")
    assert {d["server"] for d in servers_of(world, "/strict/x")} == {"a", "b"}
    assert {d["server"] for d in servers_of(world, "/logical/x", 2)} <= {"a", "b"}
