"""Every route match type and action of issue 4 through the real xdsgate,
configured by the stub from proxy_match.yaml: virtual host precedence;
path, path_separated_prefix, safe_regex and case-insensitive matches;
header matchers of every kind, inverted (also with the header missing);
query parameters; runtime_fraction 0% and 100%; gRPC; then the actions:
cluster, weighted_clusters (fixed and random), cluster_header (NC when
missing or unknown), redirects, direct_response, path and host rewrites
(literal, header, auto_host_rewrite), timeouts, idle_timeout, and request
and response header mutations at route, virtual host and route
configuration level in Envoy's order."""
import http.client
import os
import re
import socket
import time

import pytest
import yaml

import harness
from proxy_env import ProxyWorld, echo, header_values, start_upstream
from xds_env import Gate, Stub, render, wait_until


def snapshot_world(procs, tmp, template, subst):
    """A ProxyWorld (its save/find/push/curl helpers) over another snapshot
    template: subst fills it in, plus __LISTEN__ (w.port); the stub serves
    it and xdsgate runs at debug log level (stream log lines)."""
    w = ProxyWorld.__new__(ProxyWorld)
    w.procs, w.tmp = procs, str(tmp)
    w.port = harness.free_port()
    w.path = os.path.join(w.tmp, "snapshot.yaml")
    w.doc = yaml.safe_load(render(template, dict(subst, LISTEN=w.port)))
    w.save()
    w.stub = Stub(procs, w.path)
    w.gate = Gate(procs, w.stub.port, "sotw", ["--log-level", "debug"])
    w.gate.wait_ready()
    harness.wait_port(w.port)
    return w


def match_world(procs, tmp):
    """proxy_match.yaml with echo upstreams a and b."""
    up_a, up_b = start_upstream(procs, "http", "a"), start_upstream(procs, "http", "b")
    w = snapshot_world(procs, tmp, "proxy_match.yaml", {"UP_A": up_a, "UP_B": up_b})
    w.up_a, w.up_b = up_a, up_b
    return w


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = match_world(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def body_of(world, path, *args):
    status, _, _, _, body = world.curl(path, *args)
    return status, body.decode("latin-1")


def named(world, path, *args):
    """The route a direct-response route names, or "upstream" when the request was forwarded."""
    status, body = body_of(world, path, *args)
    assert status == 200, (path, status, body)
    return "upstream" if body.startswith("{") else body


# --- virtual hosts ---

@pytest.mark.parametrize("host,want", [
    ("www.example.com", "vh:exact"),
    ("WWW.Example.COM", "vh:exact"),               # domains compare case-insensitively
    ("a.api.example.com", "vh:suffix_long"),       # the longest suffix wildcard first
    ("a.example.com", "vh:suffix"),
    ("api.example.com", "vh:suffix"),              # suffix wildcards before prefix wildcards
    ("api.v2.other.org", "vh:prefix_long"),        # the longest prefix wildcard first
    ("api.other.org", "vh:prefix"),
    ("other.org", "upstream"),                     # "*"
    (".example.com", "upstream"),                  # a wildcard stands for at least one character
])
def test_virtual_host_precedence(world, host, want):
    assert named(world, "/", "-H", "Host: " + host) == want


# --- path matches ---

@pytest.mark.parametrize("path,want", [
    ("/m/path", "path"),
    ("/m/path?x=1", "path"),              # the query is not part of the path
    ("/m/path/", "upstream"),
    ("/M/PATH", "upstream"),              # case-sensitive by default
    ("/m/sep", "sep"),
    ("/m/sep/deeper", "sep"),
    ("/m/sep?q=1", "sep"),
    ("/m/sepx", "upstream"),              # path_separated_prefix needs a "/" after the prefix
    ("/m/ci/x", "ci"),
    ("/M/Ci/X", "ci"),                    # case_sensitive: false
    ("/m/re/123", "regex"),
    ("/m/re/12a", "upstream"),            # safe_regex must match the whole path
    ("/m/re/123?z=a", "regex"),
])
def test_path_matches(world, path, want):
    assert named(world, path) == want


# --- header matchers ---

@pytest.mark.parametrize("headers,want", [
    (["x-h: yes"], "h-exact"),
    (["x-h: yesno"], "h-none"),
    (["x-h: prefix-x"], "h-prefix"),
    (["x-h: endsuf"], "h-suffix"),
    (["x-h: amidb"], "h-contains"),
    (["x-h: r5"], "h-regex"),
    (["x-h: r55"], "h-none"),             # safe_regex is a full match
    (["x-present;"], "h-present"),         # present with an empty value
    (["x-range: 15"], "h-range"),
    (["x-range: 20"], "h-none"),           # the range end is exclusive
    (["x-range: 1x"], "h-none"),
    ([], "h-none"),
])
def test_header_matchers(world, headers, want):
    args = [a for h in headers for a in ("-H", h)]
    assert named(world, "/m/h", *args) == want


def test_header_matcher_on_method(world):
    assert named(world, "/m/h", "-X", "PUT") == "h-method"


@pytest.mark.parametrize("headers,want", [
    (["x-inv: yes"], "inv"),
    (["x-inv: no"], "inv-none"),
    ([], "inv-none"),                      # a missing header never matches, inverted or not (Envoy)
])
def test_inverted_header_matcher(world, headers, want):
    args = [a for h in headers for a in ("-H", h)]
    assert named(world, "/m/inv", *args) == want


# --- query parameters, runtime_fraction, gRPC ---

@pytest.mark.parametrize("path,want", [
    ("/m/q?a=1", "q-exact"),
    ("/m/q?b=2&a=1", "q-exact"),
    ("/m/q?a=2", "q-none"),
    ("/m/q?flag", "q-present"),
    ("/m/q?x=1&flag=", "q-present"),
    ("/m/q", "q-none"),
])
def test_query_parameters(world, path, want):
    assert named(world, path) == want


def test_runtime_fraction_0_and_100_percent(world):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    seen = set()
    for path in ["/m/rf0", "/m/rf100"] * 15:
        conn.request("GET", path)
        seen.add((path, conn.getresponse().read().decode()))
    conn.close()
    assert seen == {("/m/rf0", "rf0-miss"), ("/m/rf100", "rf100")}


@pytest.mark.parametrize("ctype,want", [
    ("application/grpc", "grpc"),
    ("application/grpc+proto", "grpc"),
    ("application/grpc-web", "not-grpc"),
    ("application/json", "not-grpc"),
])
def test_grpc_match(world, ctype, want):
    assert named(world, "/m/grpc/Svc/Method", "-X", "POST", "-d", "x", "-H", "content-type: " + ctype) == want


# --- actions: clusters ---

def test_cluster(world):
    assert echo(world.curl("/a/cluster")[4])["server"] == "b"


def test_weighted_clusters_fixed_weights_are_deterministic(world):
    assert {echo(world.curl("/a/fixed/%d" % i)[4])["server"] for i in range(10)} == {"b"}


def test_weighted_clusters_random_split(world):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    counts = {"a": 0, "b": 0}
    for i in range(80):
        conn.request("GET", "/a/split/%d" % i)
        counts[echo(conn.getresponse().read())["server"]] += 1
    conn.close()
    # 50/50 over 80 requests: 40 expected each; 15 is more than 5 standard deviations away
    assert counts["a"] >= 15 and counts["b"] >= 15, counts


def stream_log(world, path):
    """(status, response flags, details) of the debug stream log line for path, or None."""
    found = None
    for m in re.finditer(r"stream \d+: \S+ (\S+) -> (\d+) (\S+) (\S+)", world.gate.proc.stderr()):
        if m.group(1) == path:
            found = (int(m.group(2)), m.group(3), m.group(4))
    return found


def test_cluster_header(world):
    assert echo(world.curl("/a/by-header", "-H", "x-cluster: a")[4])["server"] == "a"
    assert echo(world.curl("/a/by-header", "-H", "x-cluster: b")[4])["server"] == "b"
    assert world.curl("/a/by-header/missing")[0] == 503
    assert world.curl("/a/by-header/unknown", "-H", "x-cluster: nope")[0] == 503
    for path in ("/a/by-header/missing", "/a/by-header/unknown"):
        wait_until(lambda: stream_log(world, path), 5, "stream log line for " + path)
        assert stream_log(world, path) == (503, "NC", "cluster_not_found")


# --- actions: redirects and direct responses ---

@pytest.mark.parametrize("path,code,location", [
    ("/a/redirect/scheme/x?q=1", 301, "https://127.0.0.1:{port}/a/redirect/scheme/x?q=1"),
    ("/a/redirect/host/x", 301, "http://other.example.org/a/redirect/host/x"),  # the request's port goes too
    ("/a/redirect/port/x", 301, "http://127.0.0.1:8443/a/redirect/port/x"),
    ("/a/redirect/path/x?keep=1", 301, "http://127.0.0.1:{port}/elsewhere?keep=1"),
    ("/a/redirect/prefix/rest?k=v", 301, "http://127.0.0.1:{port}/moved/rest?k=v"),
    ("/a/redirect/regex/abc/42", 301, "http://127.0.0.1:{port}/items/42/abc"),
    ("/a/redirect/strip/x?gone=1", 301, "http://127.0.0.1:{port}/stripped"),
    ("/a/redirect/301", 301, "http://127.0.0.1:{port}/r"),
    ("/a/redirect/302", 302, "http://127.0.0.1:{port}/r"),
    ("/a/redirect/303", 303, "http://127.0.0.1:{port}/r"),
    ("/a/redirect/307", 307, "http://127.0.0.1:{port}/r"),
    ("/a/redirect/308", 308, "http://127.0.0.1:{port}/r"),
])
def test_redirects(world, path, code, location):
    status, h, _, _, body = world.curl(path)
    assert (status, h.get("location"), body) == (code, location.format(port=world.port), b"")


def test_direct_response(world):
    status, h, pairs, _, body = world.curl("/a/direct")
    assert (status, body) == (429, b"slow down\n")
    # response header mutations apply to direct responses too
    assert [v for k, v in pairs if k == "x-resp-order"] == ["vhost", "config"]


# --- actions: rewrites ---

def test_prefix_rewrite(world):
    d = echo(world.curl("/a/prefix-rewrite/x/y?k=v")[4])
    assert d["path"] == "/new/x/y?k=v"
    assert header_values(d, "x-envoy-original-path") == ["/a/prefix-rewrite/x/y?k=v"]


def test_regex_rewrite(world):
    assert echo(world.curl("/a/regex-rewrite/one/two?q")[4])["path"] == "/two/one?q"


def test_host_rewrite_literal_with_x_forwarded_host(world):
    d = echo(world.curl("/a/host-literal", "-H", "Host: orig.example")[4])
    assert header_values(d, "host") == ["literal.internal"]
    assert header_values(d, "x-forwarded-host") == ["orig.example"]


def test_host_rewrite_header(world):
    d = echo(world.curl("/a/host-header", "-H", "x-new-host: from-header.internal")[4])
    assert header_values(d, "host") == ["from-header.internal"]
    d = echo(world.curl("/a/host-header")[4])  # no such header: unchanged
    assert header_values(d, "host") == ["127.0.0.1:%d" % world.port]


def test_auto_host_rewrite_uses_the_endpoint_hostname(world):
    d = echo(world.curl("/a/auto-host/named", "-H", "Host: orig.example")[4])
    assert header_values(d, "host") == ["backend.internal"]
    assert header_values(d, "x-forwarded-host") == []
    # on a keep-alive connection to the upstream too (the headers leave at once)
    d = echo(world.curl("/a/auto-host/named", "-H", "Host: orig.example")[4])
    assert header_values(d, "host") == ["backend.internal"]
    d = echo(world.curl("/a/auto-host/xfh", "-H", "Host: orig.example")[4])
    assert header_values(d, "host") == ["backend.internal"]
    assert header_values(d, "x-forwarded-host") == ["orig.example"]


def test_auto_host_rewrite_without_hostname_changes_nothing(world):
    for path in ("/a/auto-host/unnamed", "/a/auto-host/static"):
        d = echo(world.curl(path, "-H", "Host: orig.example")[4])
        assert header_values(d, "host") == ["orig.example"], path


# --- actions: timeouts ---

def test_default_route_timeout_is_15s(world):
    d = echo(world.curl("/a/timeout/default")[4])
    assert header_values(d, "x-envoy-expected-rq-timeout-ms") == ["15000"]


def test_route_timeout_expires_with_504(world):
    status, _, _, _, body = world.curl("/a/timeout/short")
    assert (status, body) == (504, b"upstream request timeout")
    wait_until(lambda: stream_log(world, "/slow/2000"), 5, "stream log line")
    assert stream_log(world, "/slow/2000")[:2] == (504, "UT")


def test_grpc_timeout_header_bounds_the_stream_under_grpc_timeout_header_max(world):
    grpc = ["-H", "content-type: application/grpc", "--http2-prior-knowledge"]
    t0 = time.monotonic()
    status, h, _, _, _ = world.curl("/a/timeout/grpc-header", "-H", "grpc-timeout: 300m", *grpc)
    took = time.monotonic() - t0
    assert status == 200 and h.get("grpc-status") not in (None, "0"), h  # a gRPC error, not the upstream's answer
    assert took < 1.4, took  # cut at ~0.3 s, long before the upstream's 1.5 s
    wait_until(lambda: stream_log(world, "/slow/1500"), 5, "stream log line")
    assert stream_log(world, "/slow/1500")[1] == "DT"
    # the same header on a plain HTTP request is not read: it runs to the end
    status, _, _, _, body = world.curl("/a/timeout/grpc-header", "-H", "grpc-timeout: 300m")
    assert status == 200 and echo(body)["path"] == "/slow/1500"


def test_route_timeout_0_disables_it(world):
    status, _, _, _, body = world.curl("/a/timeout/off")
    d = echo(body)
    assert status == 200 and d["path"] == "/slow/700"
    assert header_values(d, "x-envoy-expected-rq-timeout-ms") == []


def test_route_idle_timeout(world):
    status, _, _, _, body = world.curl("/a/idle/slow")
    assert (status, body) == (408, b"stream timeout")
    # a response that keeps moving is never idle: 10 chunks 100 ms apart
    status, _, _, _, body = world.curl("/a/idle/drip")
    assert (status, body) == (200, b"0123456789" * 10)


# --- header mutations ---

def test_request_header_mutations_in_envoys_order(world):
    status, _, _, _, body = world.curl(
        "/a/headers", "-H", "x-order: client", "-H", "x-ow: client", "-H", "x-oie: client",
        "-H", "x-rm-route: 1", "-H", "x-rm-vhost: 1", "-H", "x-rm-config: 1", "-H", "x-keep: 1")
    d = echo(body)
    assert header_values(d, "x-order") == ["client", "route", "vhost", "config"]  # appended, most specific first
    assert header_values(d, "x-ow") == ["config"]       # overwritten at every level: the last level wins
    assert header_values(d, "x-aia") == ["route"]       # ADD_IF_ABSENT: only the first level adds it
    assert header_values(d, "x-oie") == ["vhost"]       # OVERWRITE_IF_EXISTS: the client's value replaced
    assert header_values(d, "x-late") == []             # added by the route, removed by the virtual host
    assert header_values(d, "x-empty") == []            # empty values are skipped...
    assert header_values(d, "x-kept-empty") == [""]     # ...unless keep_empty_value
    for gone in ("x-rm-route", "x-rm-vhost", "x-rm-config"):
        assert header_values(d, gone) == [], gone
    assert header_values(d, "x-keep") == ["1"]


def test_request_header_mutations_without_client_values(world):
    d = echo(world.curl("/a/headers", "-H", "x-aia: client")[4])
    assert header_values(d, "x-aia") == ["client"]      # present: nobody adds
    assert header_values(d, "x-oie") == []              # OVERWRITE_IF_EXISTS adds nothing when absent
    assert header_values(d, "x-order") == ["route", "vhost", "config"]


def test_weighted_cluster_request_headers_come_first(world):
    d = echo(world.curl("/a/headers/weighted")[4])
    assert header_values(d, "x-order") == ["weighted", "route", "vhost", "config"]


def test_weighted_cluster_response_headers_on_a_local_reply(world):
    status, h, _, _, _ = world.curl("/a/headers/weighted-missing")
    assert status == 503  # cluster_not_found, answered by xdsgate
    assert h.get("x-weighted") == socket.gethostname()  # the chosen entry's headers, %HOSTNAME% filled in
    assert h.get("x-resp-order") == "config"  # and the levels above it


def test_response_header_mutations_in_envoys_order(world):
    status, h, pairs, _, body = world.curl("/a/headers")
    assert status == 200
    assert [v for k, v in pairs if k == "x-resp-order"] == ["route", "vhost", "config"]
    assert [v for k, v in pairs if k == "x-resp-ow"] == ["config"]
    assert "content-type" not in h      # removed by the route
    assert "x-upstream" not in h        # removed by the route configuration
    status, h, _, _, _ = world.curl("/a/cluster")
    assert "x-upstream" not in h and h["content-type"] == "application/json"
