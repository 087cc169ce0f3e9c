"""Upstream failures and the upstream side of the connection rules through
the real xdsgate (proxy_upstream.yaml): an upstream that closes without
answering (503 UC), one that answers garbage (502 UPE), a connect that
never completes (503 UF after connect_timeout), a cluster whose only
endpoint EDS calls UNHEALTHY (503 UH "no healthy upstream"); hop-by-hop
headers from an HTTP/1.1 client never reach an HTTP/1.1 or HTTP/2 upstream
while "te: trailers" reaches the HTTP/2 one; keep-alive upstream connection
reuse; HTTP/2 multiplexing of concurrent requests on one upstream
connection; big bodies (written from the upstream connection's read blocks
by reference) reach a slow reader intact, HTTP/1.1 and HTTP/2, and a client
gone mid-body leaves the proxy serving (and, in sanitizer builds, nothing
leaked at exit)."""
import hashlib
import http.client
import json
import random
import re
import socket
import struct
import subprocess
import time

import pytest

import harness
from proxy_env import echo, header_values, start_upstream, status_of
from test_proxy_match import snapshot_world, stream_log
from xds_env import wait_until


def blackhole():
    """A listener whose accept queue is full: further SYNs are dropped, so a
    connect to it hangs. Returns (port, sockets to close at the end)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    held = [ls]
    for _ in range(4):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(ls.getsockname())
        held.append(c)
    return ls.getsockname()[1], held


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    hole, held = blackhole()
    try:
        subst = {"UP_A": start_upstream(procs, "http", "a"), "GARBAGE": start_upstream(procs, "garbage", "junk"),
                 "H2": start_upstream(procs, "h2echo", "h2"), "BLACKHOLE": hole}
        w = snapshot_world(procs, tmp_path_factory.mktemp("world"), "proxy_upstream.yaml", subst)
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()
        for s in held:
            s.close()


def logged(world, path):
    wait_until(lambda: stream_log(world, path), 5, "stream log line for " + path)
    return stream_log(world, path)


# --- failures ---

@pytest.mark.parametrize("path,status,body,flag,details", [
    # the upstream closes without answering
    ("/reset", 503, b"upstream connect error or disconnect/reset before headers. reset reason: connection termination",
     "UC", "upstream_reset_before_response_started{connection_termination}"),
    # the upstream answers bytes that are not HTTP
    ("/garbage", 502, b"upstream connect error or disconnect/reset before headers. reset reason: protocol error",
     "UPE", "upstream_reset_before_response_started{protocol_error}"),
    # the connect never completes: connect_timeout (0.5 s)
    ("/blackhole", 503, b"upstream connect error or disconnect/reset before headers. reset reason: connection failure",
     "UF", "upstream_reset_before_response_started{connection_timeout}"),
    # EDS says the only endpoint is UNHEALTHY
    ("/sick", 503, b"no healthy upstream", "UH", "no_healthy_upstream"),
])
def test_upstream_failure_local_replies(world, path, status, body, flag, details):
    got = world.curl(path)
    assert (got[0], got[4]) == (status, body)
    assert logged(world, path) == (status, flag, details)


# --- hop-by-hop headers ---

def exchange(port, request):
    """Sends one raw request; returns (status, body) of its content-length framed response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        while len(body) < length:
            body += s.recv(65536)
        return status_of(head), body


HOP_BY_HOP = (b"Connection: x-foo, keep-alive\r\nx-foo: secret\r\nKeep-Alive: timeout=5\r\n"
              b"Proxy-Connection: keep-alive\r\nx-kept: yes\r\n")


def test_hop_by_hop_headers_never_reach_an_http1_upstream(world):
    status, body = exchange(world.port, b"GET /hop HTTP/1.1\r\nHost: x\r\n" + HOP_BY_HOP + b"TE: gzip\r\n\r\n")
    assert status == 200
    d = echo(body)
    names = [k for k, _ in d["headers"]]
    for gone in ("x-foo", "keep-alive", "proxy-connection", "te"):
        assert gone not in names, (gone, d["headers"])
    assert all("x-foo" not in v for k, v in d["headers"] if k == "connection")
    assert header_values(d, "x-kept") == ["yes"]


@pytest.mark.parametrize("te,want", [(b"trailers", ["trailers"]), (b"gzip", []), (b"gzip, trailers", ["trailers"])])
def test_hop_by_hop_to_http2_upstream_keeps_only_te_trailers(world, te, want):
    status, body = exchange(world.port, b"GET /h2/hop HTTP/1.1\r\nHost: x\r\n" + HOP_BY_HOP + b"TE: " + te + b"\r\n\r\n")
    assert status == 200
    d = echo(body)
    assert d["version"] == "HTTP/2" and d["path"] == "/hop"
    names = [k for k, _ in d["headers"]]
    for gone in ("x-foo", "keep-alive", "proxy-connection", "connection", "host"):
        assert gone not in names, (gone, d["headers"])
    assert header_values(d, "te") == want
    assert header_values(d, ":authority") == ["x"]
    assert header_values(d, "x-kept") == ["yes"]


# --- connection reuse and multiplexing ---

def test_keepalive_upstream_connection_is_reused(world):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    peers = []
    for i in range(5):
        conn.request("GET", "/peer?n=%d" % i)
        r = conn.getresponse()
        assert r.status == 200
        peers.append(echo(r.read())["peer"])
    conn.close()
    assert len(set(peers)) == 1, peers  # five requests, one upstream connection


def responses(text):
    """The JSON bodies nghttp printed back to back."""
    dec, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = dec.raw_decode(text, i)
        out.append(obj)
    return out


def test_http2_upstream_multiplexes_concurrent_requests(world):
    # four concurrent streams on one downstream HTTP/2 connection (one worker),
    # each held 500 ms by the upstream
    urls = ["http://127.0.0.1:%d/h2/slow/500?i=%d" % (world.port, i) for i in range(4)]
    r = subprocess.run(["nghttp", "-t", "10"] + urls, capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr.decode()
    got = responses(r.stdout.decode())
    assert len(got) == 4 and all(d["version"] == "HTTP/2" for d in got)
    assert len({d["peer"] for d in got}) == 1, got  # one upstream connection...
    assert max(d["active"] for d in got) >= 2, got   # ...carrying several streams at once


# --- big bodies ---

def pattern(n):
    """upstreams.py's /pattern/N body."""
    return random.Random(n).randbytes(n)


def slow_get(port, path, rcvbuf=8192, pause=0.001):
    """(head text, body) of an HTTP/1.1 GET read 16 KiB at a time through a
    small receive buffer, so the proxy's output to it backs up; a chunked
    body is decoded."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    data = b""
    while True:
        chunk = s.recv(16384)
        if not chunk:
            break
        data += chunk
        time.sleep(pause)
    s.close()
    head, body = data.split(b"\r\n\r\n", 1)
    if b"transfer-encoding: chunked" in head.lower():
        out, i = b"", 0
        while True:
            j = body.index(b"\r\n", i)
            size = int(body[i:j], 16)
            if size == 0:
                break
            out += body[j + 2:j + 2 + size]
            i = j + 2 + size + 2
        body = out
    return head.decode("latin-1"), body


@pytest.mark.parametrize("path", ["/pattern/65536", "/pattern/3145728", "/chunkedpattern/3145728"])
def test_slow_reader_gets_a_big_response_intact(world, path):
    head, body = slow_get(world.port, path)
    n = int(path.rsplit("/", 1)[1])
    assert head.startswith("HTTP/1.1 200"), head
    assert len(body) == n and hashlib.sha256(body).digest() == hashlib.sha256(pattern(n)).digest()


def test_big_response_over_http2_is_intact(world):
    n = 2 << 20
    status, _, _, _, body = world.curl("/pattern/%d" % n, "--http2-prior-knowledge", "--limit-rate", "8M")
    assert status == 200
    assert len(body) == n and hashlib.sha256(body).digest() == hashlib.sha256(pattern(n)).digest()


def test_big_upload_reaches_the_upstream_intact(world, tmp_path):
    n = 3 << 20
    src = tmp_path / "up.bin"
    src.write_bytes(pattern(n))
    status, _, _, _, body = world.curl("/peer", "--data-binary", "@" + str(src))
    assert status == 200
    got = echo(body)
    assert got["body_len"] == n and got["body_sha256"] == hashlib.sha256(pattern(n)).hexdigest()


def test_client_gone_mid_body_leaves_the_proxy_serving(world):
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.settimeout(10)
        s.connect(("127.0.0.1", world.port))
        s.sendall(b"GET /pattern/4194304 HTTP/1.1\r\nHost: t\r\n\r\n")
        got = 0
        while got < 200000:
            chunk = s.recv(16384)
            assert chunk
            got += len(chunk)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset with most of the body still queued or unread upstream
    n = 1 << 20
    status, _, _, _, body = world.curl("/pattern/%d" % n)
    assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(pattern(n)).digest()
