"""The buffer filter (envoy.filters.http.buffer) and 413: a request body is
held until it is complete and then forwarded with a content-length; more
than max_request_bytes is answered 413 "Payload Too Large" and never reaches
the upstream; BufferPerRoute turns the filter off or changes the limit for a
route (above the 64 KiB HTTP/2 stream window: the client is never stalled);
a route's FilterConfig with disabled: true turns the filter off, and any
per-route config turns on a filter configured with disabled: true; a zero
limit is NACKed naming the field; a weighted cluster's typed_per_filter_config
overrides the route's (the pick is made before the filters run, as Envoy).
Snapshot: snapshots/proxy_buffer.yaml."""
import hashlib
import json
import os
import socket
import subprocess

import pytest
import yaml

import harness
from proxy_env import echo, header_values, parse_head, start_upstream
from xds_env import LDS, Gate, Stub, render, wait_until, write_atomic


class World:
    def __init__(self, procs, tmp):
        self.tmp = str(tmp)
        self.up = start_upstream(procs, "http", "up")
        self.port, self.optin = harness.free_port(), harness.free_port()
        self.path = os.path.join(self.tmp, "snapshot.yaml")
        self.doc = yaml.safe_load(render("proxy_buffer.yaml", {"LISTEN": self.port, "OPTIN": self.optin,
                                                               "UP": self.up}))
        self.save()
        self.stub = Stub(procs, self.path)
        self.gate = Gate(procs, self.stub.port, "sotw", ["--log-level", "debug"])
        self.gate.wait_ready()
        harness.wait_port(self.port)
        harness.wait_port(self.optin)

    def save(self):
        write_atomic(self.path, yaml.safe_dump(self.doc, sort_keys=False))

    def seen(self):
        """Request lines the upstream received."""
        out = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/__seen" % self.up], capture_output=True, timeout=10)
        return [tuple(x) for x in json.loads(out.stdout)]

    def curl(self, path, body, *args, port=None):
        """(status, headers, body) of a POST of body (bytes) through xdsgate with curl."""
        src = os.path.join(self.tmp, "req.bin")
        with open(src, "wb") as f:
            f.write(body)
        out = os.path.join(self.tmp, "resp.bin")
        r = subprocess.run(["curl", "-s", "-S", "-m", "20", "-D", "-", "-o", out, "--data-binary", "@" + src]
                           + list(args) + ["http://127.0.0.1:%d%s" % (port or self.port, path)],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr.decode()
        status, headers, _, _ = parse_head(r.stdout.decode("latin-1"))
        return status, headers, open(out, "rb").read()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = World(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def chunked_request(path, chunks, extra=b""):
    head = b"POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n%s\r\n" % (path.encode(), extra)
    return head, [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"]


def read_response(sock):
    """(status, headers dict, body) of one content-length response on sock."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response: %r" % data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines[1:]))
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return int(lines[0].split(" ")[1]), headers, rest[:n]


def test_chunked_body_is_forwarded_whole_with_a_content_length(world):
    body = os.urandom(900)
    head, parts = chunked_request("/whole", [body[:100], body[100:500], body[500:]])
    with socket.create_connection(("127.0.0.1", world.port), timeout=10) as s:
        s.sendall(head)
        for p in parts:
            s.sendall(p)
        status, headers, resp = read_response(s)
    assert status == 200
    d = echo(resp)
    assert header_values(d, "content-length") == ["900"]
    assert header_values(d, "transfer-encoding") == []
    assert d["body_len"] == 900 and d["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_body_at_the_limit_passes(world):
    body = os.urandom(1000)
    status, headers, resp = world.curl("/exact", body)
    assert status == 200 and headers["x-route"] == "default"
    assert echo(resp)["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_header_only_request_is_not_held(world):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
                        "http://127.0.0.1:%d/get" % world.port], capture_output=True, timeout=20)
    assert r.stdout == b"200"


@pytest.mark.parametrize("proto", [[], ["--http2-prior-knowledge"]], ids=["http1", "http2"])
def test_over_the_limit_is_413_and_never_forwarded(world, proto):
    path = "/too-big-" + ("h2" if proto else "h1")
    status, headers, resp = world.curl(path, os.urandom(1001), *proto)
    assert status == 413 and resp == b"Payload Too Large"
    assert headers["x-route"] == "default"  # the route's response headers, as on every local reply
    assert ("POST", path) not in world.seen()


def test_chunked_over_the_limit_is_413_and_the_http1_connection_closes(world):
    head, parts = chunked_request("/too-big-chunked", [b"a" * 600, b"b" * 600, b"c" * 600])
    with socket.create_connection(("127.0.0.1", world.port), timeout=10) as s:
        s.sendall(head)
        try:
            for p in parts:
                s.sendall(p)
        except OSError:
            pass  # the proxy may close before the rest was sent
        status, headers, resp = read_response(s)
        assert status == 413 and headers.get("connection") == "close"
        assert s.recv(100) == b""  # nothing more: the rest of the request is never parsed
    assert ("POST", "/too-big-chunked") not in world.seen()


def test_expect_100_continue_over_the_limit_is_413(world):
    status, _, resp = world.curl("/expect", b"z" * 5000, "-H", "Expect: 100-continue")
    assert status == 413 and resp == b"Payload Too Large"
    assert ("POST", "/expect") not in world.seen()


@pytest.mark.parametrize("proto", [[], ["--http2-prior-knowledge"]], ids=["http1", "http2"])
def test_route_limit_above_the_stream_window_buffers_the_whole_body(world, proto):
    body = os.urandom(250000)  # > 64 KiB HTTP/2 window: only early acknowledgement lets it all in
    status, _, resp = world.curl("/large/ok", body, *proto)
    assert status == 200
    d = echo(resp)
    assert d["body_len"] == len(body) and d["body_sha256"] == hashlib.sha256(body).hexdigest()
    status, _, resp = world.curl("/large/too-much", os.urandom(300001), *proto)
    assert status == 413


def test_route_with_the_filter_disabled_streams_any_size(world):
    body = os.urandom(20000)
    status, _, resp = world.curl("/nobuffer", body, "-H", "Transfer-Encoding: chunked")
    assert status == 200
    d = echo(resp)
    assert d["body_len"] == len(body) and header_values(d, "content-length") == []  # streamed, nothing added


def test_filter_config_disabled_turns_the_filter_off_for_a_route(world):
    body = os.urandom(5000)
    status, _, resp = world.curl("/off", body, "-H", "Transfer-Encoding: chunked")
    assert status == 200
    d = echo(resp)
    assert d["body_len"] == len(body) and header_values(d, "content-length") == []


def test_disabled_filter_is_turned_on_by_a_route_config(world):
    # "buf" is disabled: true on this listener: bodies stream, whatever their size...
    status, _, resp = world.curl("/elsewhere", os.urandom(5000), port=world.optin)
    assert status == 200 and echo(resp)["body_len"] == 5000
    # ...except on /on, whose BufferPerRoute turns it on with a 100-byte limit
    status, _, resp = world.curl("/on/small", b"x" * 100, "-H", "Transfer-Encoding: chunked", port=world.optin)
    assert status == 200 and header_values(echo(resp), "content-length") == ["100"]
    status, _, resp = world.curl("/on/big", b"x" * 101, port=world.optin)
    assert status == 413 and resp == b"Payload Too Large"


def test_zero_limit_is_nacked_naming_the_field(world):
    n_before = len(world.stub.events("nack", type_url=LDS))
    lst = [r for r in world.doc["resources"] if r["@type"] == LDS and r["name"] == "buffered"][0]
    flt = lst["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0]["typed_config"]
    flt["max_request_bytes"] = 0
    try:
        world.save()
        nack = world.stub.wait_event("nack", type_url=LDS, count=n_before + 1)[-1]
        assert "http_filters[0].typed_config.max_request_bytes" in nack["error_message"], nack
        assert "greater than 0" in nack["error_message"], nack
    finally:
        flt["max_request_bytes"] = 1000
        world.save()
    # the old listener served on through the NACK
    status, _, _ = world.curl("/after-nack", b"q" * 10)
    assert status == 200


@pytest.mark.parametrize("proto", [[], ["--http2-prior-knowledge"]], ids=["http1", "http2"])
def test_weighted_cluster_per_filter_config_overrides_the_route(world, proto):
    # x-pick 0: the cluster's FilterConfig disabled: true turns the filter off: any size streams through
    body = os.urandom(5000)
    status, headers, resp = world.curl("/weighted/a", body, "-H", "x-pick: 0", "-H", "Transfer-Encoding: chunked",
                                       *proto)
    assert status == 200 and headers["x-wc"] == "off"
    d = echo(resp)
    assert d["body_len"] == 5000 and d["body_sha256"] == hashlib.sha256(body).hexdigest()
    if not proto:
        assert header_values(d, "content-length") == []  # not buffered: nothing added
    # x-pick 1: the cluster's BufferPerRoute (50 bytes) wins over the route's 2000
    status, headers, resp = world.curl("/weighted/b", b"x" * 50, "-H", "x-pick: 1", "-H",
                                       "Transfer-Encoding: chunked", *proto)
    assert status == 200 and headers["x-wc"] == "small"
    assert header_values(echo(resp), "content-length") == ["50"]
    status, headers, resp = world.curl("/weighted/b-big", b"x" * 51, "-H", "x-pick: 1", *proto)
    assert status == 413 and resp == b"Payload Too Large"
    assert headers["x-wc"] == "small"  # the pick's response headers are on the local reply too
    assert ("POST", "/weighted/b-big") not in world.seen()
    # x-pick 2: nothing on the cluster: the route's BufferPerRoute (2000), not the filter's 1000
    status, headers, resp = world.curl("/weighted/c", b"y" * 1500, "-H", "x-pick: 2", *proto)
    assert status == 200 and headers["x-wc"] == "route"
    status, headers, _ = world.curl("/weighted/c-big", b"y" * 2001, "-H", "x-pick: 2", *proto)
    assert status == 413 and headers["x-wc"] == "route"


def test_weighted_pick_is_the_one_the_router_uses(world):
    # The same pick decides the filter settings and the upstream request: with many
    # random picks, every 200 came through a cluster whose limit allowed 100 bytes.
    seen = {}
    for i in range(30):
        status, headers, _ = world.curl("/weighted/rnd%d" % i, b"z" * 100)
        seen.setdefault(headers.get("x-wc"), set()).add(status)
    assert seen.get("small") in (None, {413}), seen
    assert seen.get("off", {200}) == {200} and seen.get("route", {200}) == {200}, seen
    assert len(seen) >= 2, seen  # the random pick spreads
