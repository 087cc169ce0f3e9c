"""Protocols through xdsgate: TLS with SNI and ALPN (curl HTTP/1.1 and
HTTP/2), h2c prior knowledge (curl, nghttp), large bodies streamed both ways
(HTTP/1.1 and HTTP/2, content-length and chunked), keep-alive and
pipelining, 100-continue, HEAD, websocket echo, gRPC unary and streaming
with trailers (python3-grpcio)."""
import hashlib
import os
import socket
import subprocess
import time

import pytest

import harness
from proxy_env import ProxyWorld, echo, have_grpc, header_values, raw, status_of


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = ProxyWorld(procs, tmp_path_factory.mktemp("world"), grpc=have_grpc())
    try:
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


@pytest.mark.parametrize("proto,version", [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")])
def test_tls_sni_and_alpn(world, proto, version):
    status, h, _, got, body = world.curl("/tls", proto, tls=True)
    assert (status, got) == (200, version)
    d = echo(body)
    assert header_values(d, "x-forwarded-proto") == ["https"]
    assert header_values(d, "host") == ["secure.test:%d" % world.tls_port]


def test_tls_unknown_sni_has_no_filter_chain(world):
    r = subprocess.run(["curl", "-s", "-m", "5", "-k", "--resolve", "other.test:%d:127.0.0.1" % world.tls_port,
                        "https://other.test:%d/" % world.tls_port], capture_output=True)
    assert r.returncode != 0  # no chain matches: the connection is closed


def test_nghttp_h2c(world):
    r = subprocess.run(["nghttp", "-s", "http://127.0.0.1:%d/nghttp" % world.port], capture_output=True, timeout=15)
    assert r.returncode == 0, r.stderr.decode()
    out = subprocess.run(["nghttp", "http://127.0.0.1:%d/nghttp" % world.port], capture_output=True, timeout=15)
    assert echo(out.stdout)["path"] == "/nghttp"


@pytest.mark.parametrize("proto", ["--http1.1", "--http2-prior-knowledge"])
def test_large_upload_streams_intact(world, proto, tmp_path):
    data = os.urandom(6 * 1024 * 1024 + 123)
    path = str(tmp_path / "up.bin")
    with open(path, "wb") as f:
        f.write(data)
    status, _, _, _, body = world.curl("/upload", proto, "--data-binary", "@" + path, "-H", "content-type: x/y")
    d = echo(body)
    assert status == 200
    assert d["body_len"] == len(data) and d["body_sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("proto", ["--http1.1", "--http2-prior-knowledge"])
@pytest.mark.parametrize("path,size", [("/big/8000000", 8000000), ("/chunked/3000000", 3000000)])
def test_large_download_streams_intact(world, proto, path, size):
    status, h, _, _, body = world.curl(path, proto)
    assert status == 200 and len(body) == size


def test_chunked_upload_http1(world, tmp_path):
    data = os.urandom(300000)
    path = str(tmp_path / "c.bin")
    with open(path, "wb") as f:
        f.write(data)
    status, _, _, _, body = world.curl("/chunk-up", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path)
    d = echo(body)
    assert d["body_len"] == len(data) and d["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_keepalive_and_pipelining_in_order(world):
    reqs = b"".join(b"GET /pipe/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
    out = raw(world.port, reqs + b"GET /pipe/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    paths = [p.split(b'"')[0] for p in out.split(b'"path": "')[1:]]
    assert paths == [b"/pipe/0", b"/pipe/1", b"/pipe/2", b"/pipe/last"]
    assert out.count(b"HTTP/1.1 200 OK") == 4


def test_100_continue(world):
    s = socket.create_connection(("127.0.0.1", world.port), timeout=5)
    try:
        s.sendall(b"POST /cont HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        first = s.recv(4096)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n")
        s.sendall(b"hello")
        out = b""
        while b'"body_sha256"' not in out:
            out += s.recv(65536)
        assert status_of(out) == 200 and b'"body_len": 5' in out
    finally:
        s.close()


def test_head_has_no_body(world):
    out = raw(world.port, b"HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = out.partition(b"\r\n\r\n")
    assert status_of(out) == 200 and rest == b"" and b"content-length:" in head.lower()


def ws_frame(payload, op=1):
    mask = b"\x11\x22\x33\x44"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return bytes([0x80 | op]) + size + mask + masked


def test_websocket_echo(world):
    s = socket.create_connection(("127.0.0.1", world.port), timeout=5)
    try:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
        rest = head.split(b"\r\n\r\n", 1)[1]
        for msg in (b"hello", b"x" * 300):
            s.sendall(ws_frame(msg))
            want = len(b"a: " + msg) + (2 if len(msg) + 3 < 126 else 4)
            while len(rest) < want:
                rest += s.recv(65536)
            assert rest[:want].endswith(b"a: " + msg)
            rest = rest[want:]
        s.sendall(ws_frame(b"", op=8))
        while len(rest) < 2:
            rest += s.recv(16)
        assert rest[:2] == b"\x88\x00"
    finally:
        s.close()


@pytest.mark.skipif(not have_grpc(), reason="python3-grpcio is not installed")
def test_grpc_unary_and_streaming_with_trailers(world):
    import grpc
    ch = grpc.insecure_channel("127.0.0.1:%d" % world.port)
    try:
        resp, call = ch.unary_unary("/test.Echo/Unary").with_call(b"hi", timeout=10)
        assert resp == b"g:True:hi"
        assert ("x-trailer", "done") in [(m.key, m.value) for m in call.trailing_metadata()]
        got = list(ch.unary_stream("/test.Echo/ServerStream")(b"5", timeout=10))
        assert got == [b"g:%d" % i for i in range(5)]
        got = list(ch.stream_stream("/test.Echo/BidiStream")(iter([b"a", b"bc", b"d"]), timeout=10))
        assert got == [b"A", b"BC", b"D"]
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/test.Echo/Fail")(b"x", timeout=10)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED and e.value.details() == "no way"
    finally:
        ch.close()


@pytest.mark.skipif(not have_grpc(), reason="python3-grpcio is not installed")
def test_grpc_local_reply_is_a_grpc_status(world):
    import grpc
    ch = grpc.insecure_channel("127.0.0.1:%d" % world.port)
    try:
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary("/dead.Service/Method")(b"x", timeout=10)
        # 503 UF becomes a trailers-only gRPC answer: UNAVAILABLE with the reply text
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "connection failure" in e.value.details()
    finally:
        ch.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_back_pressure_bounds_memory(world):
    gate = world.gate.proc.pid
    before = rss_kib(gate)
    socks = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", world.port))
        s.sendall(b"GET /big/100000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(s)
    time.sleep(2)  # nobody reads: 3 x 100 MB must not pile up in the proxy
    grown = rss_kib(gate) - before
    try:
        assert grown < 30 * 1024, "xdsgate grew by %d KiB" % grown
        s = socks[0]
        s.settimeout(10)
        n = 0
        while n < 100000000:
            b = s.recv(1 << 20)
            if not b:
                break
            n += len(b)
        assert n > 100000000  # the whole body (plus the head) once the client reads again
    finally:
        for s in socks:
            s.close()
