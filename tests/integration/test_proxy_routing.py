"""Traffic through xdsgate configured by the stub (proxy_basic.yaml): every
route match type and action, header manipulation order, the connection
manager's request headers (XFF, x-request-id, via, internal-only headers,
underscores), local replies (404 NR, 503 UF, 503 cluster not found, 504 UT,
403 upgrade refused) and round robin."""
import pytest

from proxy_env import ProxyWorld, echo, header_values


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import harness
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = ProxyWorld(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def test_plain_http1_request_reaches_upstream_and_back(world):
    status, h, _, version, body = world.curl("/hello?x=1")
    assert (status, version) == (200, "HTTP/1.1")
    d = echo(body)
    assert d["server"] == "a" and d["method"] == "GET" and d["path"] == "/hello?x=1"
    assert h["server"] == "xdsgate"
    assert "date" in h


def test_http2_prior_knowledge(world):
    status, h, _, version, body = world.curl("/h2", "--http2-prior-knowledge")
    assert (status, version) == (200, "HTTP/2")
    d = echo(body)
    assert d["server"] == "a" and d["version"] == "HTTP/1.1"
    assert header_values(d, "host") == ["127.0.0.1:%d" % world.port]


def test_exact_path_and_header_order(world):
    status, h, pairs, _, body = world.curl("/exact")
    d = echo(body)
    assert status == 200 and d["server"] == "a"
    assert header_values(d, "x-route") == ["exact"]
    # route, then virtual host, then route configuration (Envoy's order, append)
    assert header_values(d, "x-order") == ["route", "vhost", "config"]
    assert [v for k, v in pairs if k == "x-resp-order"] == ["route", "vhost", "config"]
    assert "x-upstream" not in h  # response_headers_to_remove


def test_exact_path_does_not_match_longer_path(world):
    d = echo(world.curl("/exactly")[4])
    assert d["server"] == "a" and header_values(d, "x-route") == []


def test_prefix_regex_header_query_matches(world):
    assert echo(world.curl("/prefix/x")[4])["server"] == "b"
    d = echo(world.curl("/re/123")[4])
    assert d["server"] == "b" and header_values(d, "x-route") == ["regex"]
    assert echo(world.curl("/re/12a")[4])["server"] == "a"  # regex must match the whole path
    assert echo(world.curl("/hdr", "-H", "x-pick: b")[4])["server"] == "b"
    assert echo(world.curl("/hdr", "-H", "x-pick: c")[4])["server"] == "a"
    assert echo(world.curl("/q?v=1")[4])["server"] == "b"
    assert echo(world.curl("/q?v=2")[4])["server"] == "a"


def test_weighted_clusters_by_header_value(world):
    assert echo(world.curl("/weighted", "-H", "x-w: 10")[4])["server"] == "a"
    d = echo(world.curl("/weighted", "-H", "x-w: 60")[4])
    assert d["server"] == "b" and header_values(d, "x-weighted") == ["b"]


def test_round_robin_over_eds_endpoints(world):
    seen = [echo(world.curl("/rr/%d" % i)[4])["server"] for i in range(8)]
    assert set(seen) == {"a", "b"}


def test_virtual_hosts_exact_and_wildcard(world):
    assert echo(world.curl("/a", "-H", "Host: api.example.com")[4])["server"] == "a"
    status, _, _, _, body = world.curl("/", "-H", "Host: x.wild.test")
    assert (status, body) == (200, b"wildcard vhost\n")
    status, h, _, _, body = world.curl("/zzz", "-H", "Host: api.example.com")
    assert (status, body) == (404, b"")  # no route in that virtual host: NR


def test_redirects_and_direct_response(world):
    status, h, _, _, _ = world.curl("/redirect/x")
    assert status == 302 and h["location"] == "http://example.org/new"
    status, h, _, _, _ = world.curl("/https/y?q=1")
    assert status == 301 and h["location"] == "https://127.0.0.1:%d/https/y?q=1" % world.port  # a non-default port stays
    status, h, _, _, body = world.curl("/direct")
    assert (status, body) == (418, b"teapot\n")
    assert h["content-type"] == "text/plain"


def test_rewrites(world):
    d = echo(world.curl("/rewrite/abc?k=v")[4])
    assert d["path"] == "/rewritten/abc?k=v"
    assert header_values(d, "x-envoy-original-path") == ["/rewrite/abc?k=v"]
    assert echo(world.curl("/rx/foo/bar")[4])["path"] == "/bar/foo"
    d = echo(world.curl("/host")[4])
    assert header_values(d, "host") == ["upstream.internal"]


def test_forwarding_headers_internal_client(world):
    # 127.0.0.1 without x-forwarded-for is an internal client (use_remote_address: true)
    status, h, _, _, body = world.curl("/fwd", "-H", "x-internal-secret: 1", "-H", "x_under: 1",
                                       "-H", "x-request-id: kept")
    d = echo(body)
    assert header_values(d, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(d, "x-forwarded-proto") == ["http"]
    assert header_values(d, "x-envoy-internal") == ["true"]
    assert header_values(d, "via") == ["xdsgate-test"]
    assert header_values(d, "x-internal-secret") == ["1"]
    assert header_values(d, "x_under") == []  # headers_with_underscores_action: DROP_HEADER
    assert header_values(d, "x-request-id") == ["kept"] and h["x-request-id"] == "kept"
    assert h["via"] == "xdsgate-test"


def test_forwarding_headers_external_client(world):
    # a client that sends x-forwarded-for is not trusted: external, edge request
    status, h, _, _, body = world.curl("/fwd", "-H", "x-internal-secret: 1", "-H", "X-Forwarded-For: 203.0.113.9",
                                       "-H", "x-request-id: spoofed", "-H", "x-envoy-internal: true")
    d = echo(body)
    assert header_values(d, "x-forwarded-for") == ["203.0.113.9,127.0.0.1"]
    assert header_values(d, "x-internal-secret") == []  # internal_only_headers of an external request
    assert header_values(d, "x-envoy-internal") == []
    assert header_values(d, "x-envoy-external-address") == ["127.0.0.1"]
    rid = header_values(d, "x-request-id")
    assert len(rid) == 1 and rid[0] != "spoofed" and len(rid[0]) == 36  # edge: regenerated


def test_request_id_generated(world):
    status, h, _, _, body = world.curl("/rid")
    rid = header_values(echo(body), "x-request-id")
    assert len(rid) == 1 and len(rid[0]) == 36 and rid[0][14] == "4"
    assert h["x-request-id"] == rid[0]


def test_local_replies(world):
    status, h, _, _, body = world.curl("/dead")
    assert status == 503 and b"connection failure" in body  # UF
    status, _, _, _, body = world.curl("/nocluster")
    assert status == 503  # NC: cluster_not_found_response_code


def test_route_timeout_504(world):
    # /timeout: route timeout 0.5 s, rewritten to the upstream's /slow/2000
    status, _, _, _, body = world.curl("/timeout")
    assert (status, body) == (504, b"upstream request timeout")


def test_websocket_refused_on_route_without_upgrade(world):
    status, _, _, _, _ = world.curl("/nows", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                                    "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                    "-H", "Sec-WebSocket-Version: 13")
    assert status == 403
