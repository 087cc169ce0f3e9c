"""Malformed and hostile requests through xdsgate over raw sockets: HTTP/1
smuggling vectors are answered 400 and never reach the upstream; header
limits give 431; path normalisation rejects what Envoy rejects; local
replies carry the response flags in the stream log (UF, UT, NR)."""
import json
import re
import urllib.request

import pytest

import harness
from proxy_env import ProxyWorld, echo, raw, status_of


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    w = ProxyWorld(procs, tmp_path_factory.mktemp("world"))
    try:
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def seen_by(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/__seen" % port, timeout=5) as r:
        return [p for _, p in json.loads(r.read())]


SMUGGLING = {
    "cl_and_te": b"POST /smuggle-clte HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"0\r\n\r\nGET /smuggled-clte HTTP/1.1\r\nHost: x\r\n\r\n",
    "duplicate_cl": b"POST /smuggle-dupcl HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc",
    "bad_cl": b"POST /smuggle-badcl HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc",
    "bad_chunk_size": b"POST /smuggle-chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "te_not_chunked_last": b"POST /smuggle-te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
                           b"0\r\n\r\n",
    "obs_fold": b"GET /smuggle-fold HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
    "bare_lf": b"GET /smuggle-lf HTTP/1.1\nHost: x\n\n",
    "nul_in_value": b"GET /smuggle-nul HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "space_in_name": b"GET /smuggle-space HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "space_before_colon": b"GET /smuggle-colon HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smuggling_vector_is_400_and_never_forwarded(world, name):
    out = raw(world.port, SMUGGLING[name])
    assert status_of(out) in (400, 501), out[:200]
    assert out.count(b"HTTP/1.1") == 1  # one answer, then the connection closes
    marker = re.search(rb"/smuggle[a-z-]*", SMUGGLING[name]).group(0).decode()
    seen = seen_by(world.up_a)
    assert not [p for p in seen if p.startswith(marker) or p.startswith("/smuggled")]


def test_valid_request_after_the_vectors_still_works(world):
    out = raw(world.port, b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200 and b'"path": "/fine"' in out


def test_header_block_too_large_is_431(world):
    big = b"X-Big: " + b"a" * 70000 + b"\r\n"
    out = raw(world.port, b"GET /big-headers HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert status_of(out) == 431


def test_too_many_headers_is_431(world):
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(120))
    out = raw(world.port, b"GET /many-headers HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status_of(out) == 431


def test_http2_header_block_too_large(world):
    status, _, _, _, _ = world.curl("/h2-big", "--http2-prior-knowledge", "-H", "x-big: " + "b" * 62000)
    assert status == 431


@pytest.mark.parametrize("path,expect", [
    (b"/a/../b/./c", b"/b/c"),            # normalize_path (edge default on)
    (b"/x/%7Ey", b"/x/~y"),               # unreserved characters decoded
    (b"/x%2Fy", b"/x%2Fy"),               # escaped slashes kept unchanged by default
])
def test_path_normalisation(world, path, expect):
    out = raw(world.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200
    assert b'"path": "' + expect + b'"' in out


def test_path_with_nul_escape_is_400(world):
    out = raw(world.port, b"GET /x%00y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 400


def test_missing_host_is_400(world):
    out = raw(world.port, b"GET /nohost HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 400


def test_http10_is_refused_by_default(world):
    out = raw(world.port, b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n")
    assert status_of(out) == 426


def flags_logged(world, path):
    """The response flags of the stream log line for path (xdsgate runs with --log-level debug)."""
    m = None
    for m in re.finditer(r"stream \d+: \S+ (\S+) -> (\d+) (\S+) (\S+)", world.gate.proc.stderr()):
        if m.group(1) == path:
            break
    else:
        return None
    return int(m.group(2)), m.group(3), m.group(4)


def test_flags_recorded_for_local_replies(world):
    world.curl("/dead/flags")
    world.curl("/timeout")
    world.curl("/zzz-missing", "-H", "Host: api.example.com")
    harness_wait = __import__("xds_env").wait_until
    harness_wait(lambda: flags_logged(world, "/dead/flags"), 5, "stream log line")
    assert flags_logged(world, "/dead/flags")[:2] == (503, "UF")
    assert flags_logged(world, "/slow/2000")[:2] == (504, "UT")
    assert flags_logged(world, "/zzz-missing")[:2] == (404, "NR")
