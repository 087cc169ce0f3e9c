"""Upstream TLS through the real xdsgate (snapshot proxy_upstream_tls.yaml)
to Python TLS echo servers (upstreams_ext.py https) that report what their
TLS layer saw (SNI, ALPN, version, resumption, client certificate), with
the test CA of test_proxy_tls.py: the right SAN gives 200 and the wrong one
503 UF with details naming the verification failure; the deprecated
match_subject_alt_names; an untrusted chain; a client certificate (inline
files, or SDS together with an SDS validation context) for an upstream that
requires one, and a failure without; auto_config picking h2 when the
upstream offers it; auto_sni and auto_san_validation from the Host header;
session resumption across connections unless max_session_keys is 0;
tls_params reaching the handshake; and a big response from a TLS upstream
arriving intact. Run on both TLS flavours (make
test-openssl runs every test_proxy_*.py)."""
import hashlib
import http.client
import os
import random

import pytest

import harness
from proxy_env import PY, echo
from test_proxy_match import snapshot_world, stream_log
from test_proxy_tls import Pki
from xds_env import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


def start_https(procs, name, pki, *opts):
    port = harness.free_port()
    p = procs.start([PY, os.path.join(HERE, "upstreams_ext.py"), "https", str(port), name] + list(opts),
                    name="up-" + name)
    p.wait_output("listening", stream="stdout", timeout=15)
    return port


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    try:
        pki = Pki(str(tmp_path_factory.mktemp("pki")))
        a = (pki.cert("a"), pki.key("a"))
        subst = {
            "A": start_https(procs, "a", pki, *a, "--alpn", "http/1.1"),
            "H": start_https(procs, "h", pki, *a, "--alpn", "h2,http/1.1"),
            "M": start_https(procs, "m", pki, *a, "--client-ca", pki.ca, "--require-client-cert"),
            "W": start_https(procs, "w", pki, pki.cert("wild"), pki.key("wild")),
            "CA": pki.ca, "CA2": pki.cert("ca2"), "CLIENT_CERT": pki.cert("good"), "CLIENT_KEY": pki.key("good"),
            "CLIENT_CERT_PEM": pki.text(pki.cert("good")), "CLIENT_KEY_PEM": pki.text(pki.key("good")),
        }
        w = snapshot_world(procs, tmp_path_factory.mktemp("world"), "proxy_upstream_tls.yaml", subst)
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def logged(world, path):
    """(status, flags, details) of the stream log line for path as the upstream got it (the prefix rewritten)."""
    wait_until(lambda: stream_log(world, path), 5, "stream log line for " + path)
    return stream_log(world, path)


def ok(world, path, *args):
    status, _, _, _, body = world.curl(path, *args)
    assert status == 200, body
    return echo(body)


def ok_on(conn, path):
    """One request on a kept-alive client connection (one worker: one session cache)."""
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body
    return echo(body)


def test_right_san_200_and_the_sni_sent(world):
    d = ok(world, "/right/x")
    assert d["server"] == "a" and d["tls"]["sni"] == "a.test"
    assert d["tls"]["alpn"] == "http/1.1"  # an HTTP/1.1 cluster offers http/1.1


def test_wrong_san_503_uf_naming_the_verification_failure(world):
    status, _, _, _, body = world.curl("/wrong/wrong-san")
    assert status == 503
    assert body == (b"upstream connect error or disconnect/reset before headers. reset reason: connection failure, "
                    b"transport failure reason: TLS error: CERTIFICATE_VERIFY_FAILED: no subjectAltName matches")
    assert logged(world, "/wrong-san") == (503, "UF", "upstream_reset_before_response_started{connection_failure,"
                                                    "TLS_error:_CERTIFICATE_VERIFY_FAILED:_no_subjectAltName_matches}")


def test_deprecated_match_subject_alt_names(world):
    assert ok(world, "/legacy-san/x")["server"] == "a"


def test_untrusted_chain_503_uf(world):
    status, _, _, _, body = world.curl("/untrusted/untrusted-chain")
    assert status == 503 and b"CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate" in body
    assert logged(world, "/untrusted-chain")[:2] == (503, "UF")


@pytest.mark.parametrize("path", ["/mtls/x", "/mtls-sds/x"])
def test_client_certificate_for_an_upstream_that_requires_one(world, path):
    d = ok(world, path)
    assert d["server"] == "m"
    assert "commonName=good client" in d["tls"]["client_cert_subject"]


def test_no_client_certificate_is_refused(world):
    status, _, _, _, body = world.curl("/mtls-none/no-client-cert")
    assert status == 503, body
    assert logged(world, "/no-client-cert")[1] in ("UF", "UC")  # TLS 1.3: the refusal arrives after the handshake


def test_auto_config_speaks_h2_when_the_upstream_offers_it(world):
    d = ok(world, "/auto/x")
    assert d["version"] == "HTTP/2" and d["server"] == "h"
    d = ok(world, "/auto-h1/x")
    assert d["version"] == "HTTP/1.1" and d["tls"]["alpn"] == "http/1.1"


def test_auto_sni_and_auto_san_validation_follow_the_host(world):
    d = ok(world, "/autosni/x", "-H", "host: api.wild.test:8443")
    assert d["tls"]["sni"] == "api.wild.test"
    status, _, _, _, body = world.curl("/autosni/y", "-H", "host: other.test")
    assert status == 503
    assert b"CERTIFICATE_VERIFY_FAILED: no DNS subjectAltName covers the requested host" in body


def test_sessions_resume_unless_max_session_keys_is_zero(world):
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    try:
        # one upstream connection per request (max_requests_per_connection: 1)
        seen = [ok_on(conn, "/resume/%d" % i)["tls"]["resumed"] for i in range(4)]
        assert seen[1:] == [True, True, True], seen
        seen = [ok_on(conn, "/noresume/%d" % i)["tls"]["resumed"] for i in range(3)]
        assert seen == [False, False, False], seen
    finally:
        conn.close()


def test_tls_params_reach_the_handshake(world):
    assert ok(world, "/v12/x")["tls"]["version"] == "TLSv1.2"
    assert ok(world, "/right/v")["tls"]["version"] == "TLSv1.3"


def test_big_response_from_a_tls_upstream_is_intact(world):
    # TLS reads land in small blocks, a record each: body pieces of half a
    # block or more go downstream by reference
    n = 3 << 20
    status, _, _, _, body = world.curl("/right/pattern/%d" % n)
    assert status == 200 and len(body) == n
    assert hashlib.sha256(body).digest() == hashlib.sha256(random.Random(n).randbytes(n)).digest()
