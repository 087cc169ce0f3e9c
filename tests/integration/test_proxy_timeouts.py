"""The connection manager's timers and limits on the "tight" listener of
proxy_basic.yaml (request_headers_timeout 0.5 s, request_timeout 1 s,
stream_idle_timeout 1 s, idle_timeout 1 s, max_stream_duration 2 s,
underscores rejected, server header only when absent), a route with its
timeout disabled, and HTTP/1.1 to an HTTP/2 upstream (nghttpd)."""
import os
import socket
import time

import pytest

import harness
from proxy_env import ProxyWorld, echo, have_nghttpd, raw, status_of


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = ProxyWorld(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def read_all(s, timeout=5.0):
    s.settimeout(timeout)
    out = b""
    start = time.monotonic()
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        out += chunk
    return out, time.monotonic() - start


def test_request_headers_timeout_is_408_and_close(world):
    s = socket.create_connection(("127.0.0.1", world.tight))
    s.sendall(b"GET /partial HTTP/1.1\r\nHost: x\r\n")
    out, took = read_all(s)
    s.close()
    assert status_of(out) == 408 and took < 3


def test_request_timeout_is_408(world):
    s = socket.create_connection(("127.0.0.1", world.tight))
    s.sendall(b"POST /short-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    out, took = read_all(s)
    s.close()
    assert status_of(out) == 408 and out.endswith(b"request timeout")


def test_stream_idle_timeout_waiting_for_upstream(world):
    status, _, _, _, body = world.curl("/noto/slow/3000", port=world.tight)
    assert (status, body) == (408, b"stream timeout")


def test_max_stream_duration_resets_a_started_response(world):
    # 40 chunks 100 ms apart take 4 s; the stream may last 2 s: the response is cut
    s = socket.create_connection(("127.0.0.1", world.tight))
    s.sendall(b"GET /noto/drip/40/100 HTTP/1.1\r\nHost: x\r\n\r\n")
    out, took = read_all(s, timeout=8)
    s.close()
    assert status_of(out) == 200 and not out.endswith(b"0\r\n\r\n") and took < 4


def test_connection_idle_timeout_closes_keepalive(world):
    s = socket.create_connection(("127.0.0.1", world.tight))
    s.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
    out, took = read_all(s, timeout=4)
    s.close()
    assert status_of(out) == 200 and 0.8 < took < 3.5  # the answer, then the close after 1 s idle


def test_underscore_rejected_and_server_header_kept(world):
    out = raw(world.tight, b"GET /u HTTP/1.1\r\nHost: x\r\nx_bad: 1\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 400
    out = raw(world.tight, b"GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"\r\nserver: BaseHTTP" in out  # APPEND_IF_ABSENT keeps the upstream's
    out = raw(world.port, b"GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"\r\nserver: xdsgate\r\n" in out  # OVERWRITE (the default) replaces it


def test_route_timeout_zero_disables_it(world):
    status, _, _, _, body = world.curl("/noto/slow/1200")
    assert status == 200 and echo(body)["path"] == "/slow/1200"


@pytest.mark.skipif(not have_nghttpd(), reason="nghttpd (nghttp2-server) is not installed")
@pytest.mark.parametrize("proto", ["--http1.1", "--http2-prior-knowledge"])
def test_http2_upstream(world, proto):
    status, h, _, _, body = world.curl("/h2up/file.bin", proto)
    with open(os.path.join(world.docroot, "file.bin"), "rb") as f:
        assert status == 200 and body == f.read()
