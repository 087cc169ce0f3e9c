"""Listeners and downstream TLS through the real xdsgate and control-plane
stub (snapshot proxy_tls.yaml), with curl, openssl s_client and Python's ssl
module as clients on 127.0.0.1: SDS certificate rotation under an
established connection, mTLS (good, missing, wrong-CA and wrong-SAN client
certificates), several certificates by SNI, filter chains by SNI (exact and
wildcard), ALPN, plaintext on a TLS port and the default chain, session
resumption, tls_params (versions, cipher suites), a session that cannot
skip a tightened client-certificate check, certificate files rotated on
disk, the connection_limit filter and --max-downstream-connections, a
removed listener next to an untouched one, an IPv6 listener, and a big
response through TLS (body bytes written from read blocks by reference)
arriving intact."""
import hashlib
import http.client
import os
import random
import shutil
import socket
import ssl
import subprocess
import time

import pytest
import yaml

import harness
from proxy_env import ProxyWorld, parse_head, start_upstream
from xds_env import Gate, Stub, render, wait_until

PORTS = ("SDS", "MTLS", "MULTI", "CERTS", "V12", "V13", "LIMIT", "GONE", "SIBLING", "FILES", "PLAINFILE")
# leaf name -> (subject CN, subjectAltName, issuing CA)
LEAVES = {
    "secure": ("secure.test", "DNS:secure.test", "ca"),
    "secure2": ("secure.test", "DNS:secure.test", "ca"),  # the rotated SDS certificate: same name, new key
    "a": ("a.test", "DNS:a.test", "ca"),
    "wild": ("wild", "DNS:*.wild.test", "ca"),
    "alpn": ("alpn.test", "DNS:alpn.test", "ca"),
    "default": ("default.test", "DNS:default.test", "ca"),
    "one": ("one.test", "DNS:one.test", "ca"),
    "two": ("two.test", "DNS:two.test", "ca"),
    "files1": ("files.test", "DNS:files.test", "ca"),
    "files2": ("files.test", "DNS:files.test", "ca"),
    "pf1": ("plainfile.test", "DNS:plainfile.test", "ca"),
    "pf2": ("plainfile.test", "DNS:plainfile.test", "ca"),
    "good": ("good client", "URI:spiffe://good", "ca"),
    "badsan": ("bad client", "URI:spiffe://bad", "ca"),
    "wrongca": ("rogue client", "URI:spiffe://good", "ca2"),
}


class Pki:
    """A test CA (and a second, untrusted one) and the leaves above, as files in workdir."""

    def __init__(self, workdir):
        self.dir = workdir
        run = lambda *a: subprocess.run(list(a), check=True, capture_output=True, cwd=workdir)  # noqa: E731
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ("ca", "ca2"):
            run("openssl", "req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
                "-subj", "/CN=xdsgate test " + ca)
        for name, (cn, san, ca) in LEAVES.items():
            with open(os.path.join(workdir, name + ".ext"), "w") as f:
                f.write("subjectAltName=%s\n" % san)
            run("openssl", "req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
            run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")
        self.ca = self.cert("ca")

    def cert(self, name):
        return os.path.join(self.dir, name + ".pem")

    def key(self, name):
        return os.path.join(self.dir, name + ".key")

    def text(self, path):
        with open(path) as f:
            return f.read()

    def fingerprint(self, name):
        """SHA-256 of the DER certificate, as the peer's certificate is compared with."""
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.text(self.cert(name)))).hexdigest()


def k8s_volume(root, pki, leaf, version):
    """A Kubernetes-style secret volume: root/..vN/tls.{crt,key}, root/..data -> ..vN,
    root/tls.crt -> ..data/tls.crt; a new version swaps ..data in one rename."""
    vdir = os.path.join(root, "..v%d" % version)
    os.makedirs(vdir)
    shutil.copy(pki.cert(leaf), os.path.join(vdir, "tls.crt"))
    shutil.copy(pki.key(leaf), os.path.join(vdir, "tls.key"))
    tmp = os.path.join(root, "..data_tmp")
    os.symlink("..v%d" % version, tmp)
    os.replace(tmp, os.path.join(root, "..data"))
    for f in ("tls.crt", "tls.key"):
        if not os.path.lexists(os.path.join(root, f)):
            os.symlink(os.path.join("..data", f), os.path.join(root, f))


class TlsWorld(ProxyWorld):
    """The echo upstream "a", the stub with proxy_tls.yaml and xdsgate with every listener up
    (ProxyWorld's document helpers: find, push, save)."""

    def __init__(self, procs, tmp_path, pki, extra=()):  # pylint: disable=super-init-not-called
        self.procs = procs
        self.tmp = str(tmp_path)
        self.pki = pki
        self.up = start_upstream(procs, "http", "a")
        self.ports = {p: harness.free_port() for p in PORTS}
        self.k8s = os.path.join(self.tmp, "k8s")
        os.makedirs(self.k8s)
        k8s_volume(self.k8s, pki, "files1", 1)
        self.pf = os.path.join(self.tmp, "pf")
        os.makedirs(self.pf)
        shutil.copy(pki.cert("pf1"), os.path.join(self.pf, "cert.pem"))
        shutil.copy(pki.key("pf1"), os.path.join(self.pf, "key.pem"))
        subst = dict(self.ports, UP=self.up, CA=pki.ca, SDS_CERT=pki.text(pki.cert("secure")),
                     SDS_KEY=pki.text(pki.key("secure")), K8S_DIR=self.k8s,
                     K8S_CERT=os.path.join(self.k8s, "tls.crt"), K8S_KEY=os.path.join(self.k8s, "tls.key"),
                     PF_CERT=os.path.join(self.pf, "cert.pem"), PF_KEY=os.path.join(self.pf, "key.pem"))
        for leaf in ("secure", "a", "wild", "alpn", "default", "one", "two"):
            subst[leaf.upper() + "_CERT"] = pki.cert(leaf)
            subst[leaf.upper() + "_KEY"] = pki.key(leaf)
        self.path = os.path.join(self.tmp, "snapshot.yaml")
        self.doc = yaml.safe_load(render("proxy_tls.yaml", subst))
        self.save()
        self.stub = Stub(procs, self.path)
        self.gate = Gate(procs, self.stub.port, "sotw", list(extra) + ["--log-level", "debug"])
        self.gate.wait_ready()
        for p in self.ports.values():
            harness.wait_port(p)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def world(tmp_path_factory, pki):
    """One xdsgate for the tests that do not change the configuration."""
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    try:
        w = TlsWorld(procs, tmp_path_factory.mktemp("world"), pki)
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


# --- clients ---

def client_ctx(pki, cert=None, alpn=None, max_version=None, min_version=None, ciphers=None, check_hostname=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca)
    ctx.check_hostname = check_hostname
    if cert:
        ctx.load_cert_chain(pki.cert(cert), pki.key(cert))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if max_version:
        ctx.maximum_version = max_version
    if min_version:
        ctx.minimum_version = min_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls(port, sni, ctx, session=None, host="127.0.0.1"):
    """A TLS connection (handshake done) to host:port with SNI sni (None: no SNI)."""
    raw = socket.create_connection((host, port), timeout=10)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni, session=session)
    except Exception:
        raw.close()
        raise


def peer_fingerprint(s):
    return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def over(sock, host="x"):
    """An http.client connection over an established (TLS) socket."""
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.sock = sock
    return conn


def get(conn, path="/"):
    """(status, the `server` header: which filter chain answered, the response)."""
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status, r.getheader("server"), r


class Seen:
    """What a client saw of one TLS connection, kept after it closed."""

    def __init__(self, s):
        self.fingerprint = peer_fingerprint(s)
        self.session = s.session
        self.reused = s.session_reused
        self.version = s.version()
        self.cipher = s.cipher()[0]


def tls_get(port, sni, ctx, session=None):
    """One request on a fresh TLS connection: (status, server header, Seen); the connection is closed."""
    s = tls(port, sni, ctx, session)
    conn = over(s, sni or "x")
    try:
        status, server, _ = get(conn)
        return status, server, Seen(s)
    finally:
        conn.close()


def fails(fn):
    """True when fn() raises the errors a refused TLS client sees (handshake alert, reset, EOF)."""
    try:
        fn()
    except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError):
        return True
    return False


def curl(port, host, *args, scheme="https", ca=None):
    """(exit code, status, headers) of curl to host:port resolved to 127.0.0.1."""
    argv = ["curl", "-s", "-m", "10", "-D", "-", "-o", "/dev/null", "--resolve", "%s:%d:127.0.0.1" % (host, port)]
    if ca:
        argv += ["--cacert", ca]
    r = subprocess.run(argv + list(args) + ["%s://%s:%d/" % (scheme, host, port)], capture_output=True, timeout=20)
    if r.returncode != 0:
        return r.returncode, 0, {}
    status, headers, _, _ = parse_head(r.stdout.decode("latin-1"))
    return 0, status, headers


# --- certificates and chains (one xdsgate) ---

@pytest.mark.parametrize("client,ok", [("good", True), (None, False), ("wrongca", False), ("badsan", False)])
def test_mtls_client_certificates(world, pki, client, ok):
    args = ["--cert", pki.cert(client), "--key", pki.key(client)] if client else []
    rc, status, headers = curl(world.ports["MTLS"], "secure.test", *args, ca=pki.ca)
    if ok:
        assert (rc, status, headers.get("server")) == (0, 200, "mtls")
    else:
        assert rc != 0  # the handshake fails: no certificate, an untrusted CA, or a SAN no matcher takes
    # the same with Python's client (TLS 1.3: the refusal arrives with the first read)
    ctx = client_ctx(pki, cert=client)
    if ok:
        assert tls_get(world.ports["MTLS"], "secure.test", ctx)[:2] == (200, "mtls")
    else:
        assert fails(lambda: tls_get(world.ports["MTLS"], "secure.test", ctx))


def s_client_fingerprint(port, servername):
    """The SHA-256 fingerprint of the certificate openssl s_client is served (with -servername when given)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port]
    argv += ["-servername", servername] if servername else ["-noservername"]
    r = subprocess.run(argv, input=b"", capture_output=True, timeout=20)
    out = r.stdout.decode("latin-1")
    pem = out[out.index("-----BEGIN CERTIFICATE-----"):out.index("-----END CERTIFICATE-----") + 25]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


@pytest.mark.parametrize("sni,leaf", [("one.test", "one"), ("two.test", "two"), ("TWO.test", "two"),
                                      ("other.test", "one"), (None, "one")])
def test_several_certificates_chosen_by_sni(world, pki, sni, leaf):
    assert s_client_fingerprint(world.ports["CERTS"], sni) == pki.fingerprint(leaf)
    ctx = client_ctx(pki, check_hostname=False)
    status, server, seen = tls_get(world.ports["CERTS"], sni, ctx)
    assert (status, server) == (200, "certs")
    assert seen.fingerprint == pki.fingerprint(leaf)


@pytest.mark.parametrize("sni,chain,leaf", [
    ("a.test", "chain-a", "a"),
    ("x.wild.test", "chain-wild", "wild"),
    ("y.x.wild.test", "chain-wild", "wild"),  # a chain's "*.wild.test" matches any depth, as in Envoy
    ("other.test", "chain-default", "default"),  # no chain for the name: default_filter_chain
    (None, "chain-default", "default"),  # no SNI: only chains without server_names, then the default
])
def test_filter_chain_by_sni_wildcard_and_default(world, pki, sni, chain, leaf):
    ctx = client_ctx(pki, check_hostname=False)
    status, server, seen = tls_get(world.ports["MULTI"], sni, ctx)
    assert (status, server) == (200, chain)
    assert seen.fingerprint == pki.fingerprint(leaf)


def test_plaintext_and_tls_on_one_port(world, pki):
    conn = http.client.HTTPConnection("127.0.0.1", world.ports["MULTI"], timeout=10)
    try:
        assert get(conn)[:2] == (200, "chain-plain")  # not a ClientHello: the raw_buffer chain
        assert get(conn)[:2] == (200, "chain-plain")
    finally:
        conn.close()
    assert tls_get(world.ports["MULTI"], "a.test", client_ctx(pki))[:2] == (200, "chain-a")


@pytest.mark.parametrize("proto,chain,version", [("--http2", "chain-alpn-h2", "HTTP/2"),
                                                 ("--http1.1", "chain-alpn-other", "HTTP/1.1")])
def test_filter_chain_by_alpn(world, pki, proto, chain, version):
    rc, status, headers = curl(world.ports["MULTI"], "alpn.test", proto, ca=pki.ca)
    assert (rc, status, headers.get("server")) == (0, 200, chain)
    ctx = client_ctx(pki, alpn=["h2", "http/1.1"] if proto == "--http2" else ["http/1.1"])
    s = tls(world.ports["MULTI"], "alpn.test", ctx)
    try:
        assert s.selected_alpn_protocol() == ("h2" if proto == "--http2" else "http/1.1")
    finally:
        s.close()


@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2])
def test_session_resumption(world, pki, max_version):
    ctx = client_ctx(pki, max_version=max_version)
    status, _, first = tls_get(world.ports["CERTS"], "one.test", ctx)
    assert status == 200 and not first.reused
    status, server, again = tls_get(world.ports["CERTS"], "one.test", ctx, session=first.session)
    assert (status, server) == (200, "certs")
    assert again.reused
    assert again.version == ("TLSv1.2" if max_version else "TLSv1.3")
    # the session belongs to its filter chain's context: another listener makes a full handshake
    status, _, other = tls_get(world.ports["SDS"], "secure.test", ctx, session=first.session)
    assert status == 200 and not other.reused


def test_tls_params_versions_and_cipher_suites(world, pki):
    status, server, seen = tls_get(world.ports["V12"], "secure.test", client_ctx(pki))
    assert (status, server, seen.version) == (200, "v12", "TLSv1.2")
    assert seen.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384"  # the one suite cipher_suites allows
    other = client_ctx(pki, max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    assert fails(lambda: tls(world.ports["V12"], "secure.test", other))
    status, server, seen = tls_get(world.ports["V13"], "secure.test", client_ctx(pki))
    assert (status, server, seen.version) == (200, "v13", "TLSv1.3")
    old = client_ctx(pki, max_version=ssl.TLSVersion.TLSv1_2)
    assert fails(lambda: tls(world.ports["V13"], "secure.test", old))
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % world.ports["V13"], "-servername",
                        "secure.test", "-tls1_2"], input=b"", capture_output=True, timeout=20)
    assert r.returncode != 0


# --- connection limits ---

def keepalive(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert get(conn)[0] == 200
    return conn


def try_keepalive(port):
    """A keep-alive connection that answered, or None (refused or closed)."""
    try:
        return keepalive(port)
    except (ConnectionError, http.client.HTTPException, OSError):
        return None


def refused_or_closed(port):
    """True when a new connection gets no answer: refused, or accepted and closed by xdsgate."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
    except ConnectionRefusedError:
        return True
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(4096) == b""
    except ConnectionError:
        return True
    finally:
        s.close()


def answers(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        ok = get(conn)[0] == 200
        conn.close()
        return ok
    except (ConnectionError, http.client.HTTPException, OSError):
        return False


def test_connection_limit_filter(world):
    port = world.ports["LIMIT"]
    held = [wait_until(lambda: try_keepalive(port), 10, "a first connection")]  # the start-up probe may linger
    try:
        held.append(wait_until(lambda: try_keepalive(port), 10, "a second connection"))
        assert refused_or_closed(port)  # max_connections 2: the third is closed
        for conn in held:  # the two keep working
            assert get(conn)[:2] == (200, "limit")
        held.pop(0).close()
        wait_until(lambda: answers(port), 10, "a connection once one of the two closed")
    finally:
        for conn in held:
            conn.close()


def test_global_connection_limit_flag(procs, tmp_path, pki):
    w = TlsWorld(procs, tmp_path, pki, extra=["--max-downstream-connections", "2"])
    # the start-up probes of every port were counted too: they free their slots as they close
    held = [wait_until(lambda: try_keepalive(w.ports["SIBLING"]), 10, "a first connection")]
    try:
        held.append(wait_until(lambda: try_keepalive(w.ports["GONE"]), 10, "a second connection"))
        assert refused_or_closed(w.ports["SIBLING"])  # all listeners together: the third is closed
        assert refused_or_closed(w.ports["LIMIT"])
        assert get(held[0])[0] == 200 and get(held[1])[0] == 200
        held.pop().close()
        wait_until(lambda: answers(w.ports["SIBLING"]), 10, "a connection once one closed")
    finally:
        for conn in held:
            conn.close()
    w.gate.stop_clean()


# --- updates (an xdsgate each) ---

def test_sds_rotation_keeps_established_connections(procs, tmp_path, pki):
    w = TlsWorld(procs, tmp_path, pki)
    port = w.ports["SDS"]
    ctx = client_ctx(pki)
    s = tls(port, "secure.test", ctx)
    conn = over(s, "secure.test")
    assert get(conn)[:2] == (200, "sds")
    assert peer_fingerprint(s) == pki.fingerprint("secure")
    session = s.session
    secret = w.find("Secret", "server_cert")["tls_certificate"]
    secret["certificate_chain"]["inline_string"] = pki.text(pki.cert("secure2"))
    secret["private_key"]["inline_string"] = pki.text(pki.key("secure2"))
    w.push("Secret")
    # new handshakes get the rotated certificate ...
    wait_until(lambda: tls_get(port, "secure.test", ctx)[2].fingerprint == pki.fingerprint("secure2"), 10,
               "the rotated certificate on a new handshake")
    # ... while the connection made before keeps working, with its certificate
    assert get(conn)[:2] == (200, "sds")
    assert get(conn)[0] == 200
    assert peer_fingerprint(s) == pki.fingerprint("secure")
    conn.close()
    # the certificate's names did not change, so a session from before still resumes
    status, _, again = tls_get(port, "secure.test", ctx, session=session)
    assert status == 200 and again.reused
    w.gate.stop_clean()


def test_tightened_client_check_is_not_skipped_by_resumption(procs, tmp_path, pki):
    w = TlsWorld(procs, tmp_path, pki)
    port = w.ports["MTLS"]
    ctx = client_ctx(pki, cert="good")
    status, _, first = tls_get(port, "secure.test", ctx)
    assert status == 200
    status, _, again = tls_get(port, "secure.test", ctx, session=first.session)
    assert status == 200 and again.reused  # resumption works before the change
    session = again.session
    # pin the client certificate to one the good client does not have
    vc = w.find("Listener", "mtls")["filter_chains"][0]["transport_socket"]["typed_config"]
    vc = vc["common_tls_context"]["validation_context"]
    vc["verify_certificate_hash"] = [pki.fingerprint("badsan")]
    w.push("Listener")
    # the old session is not resumed: a full handshake checks the certificate, which the pin refuses
    assert fails(lambda: tls_get(port, "secure.test", ctx, session=session))
    assert fails(lambda: tls_get(port, "secure.test", ctx))
    w.gate.stop_clean()


def test_certificate_files_rotated_on_disk(procs, tmp_path, pki):
    w = TlsWorld(procs, tmp_path, pki)
    ctx = client_ctx(pki)
    s = tls(w.ports["FILES"], "files.test", ctx)
    conn = over(s, "files.test")
    assert get(conn)[:2] == (200, "files")
    assert peer_fingerprint(s) == pki.fingerprint("files1")
    # Kubernetes updates a mounted secret by swapping the "..data" link (watched_directory)
    k8s_volume(w.k8s, pki, "files2", 2)
    wait_until(lambda: tls_get(w.ports["FILES"], "files.test", ctx)[2].fingerprint == pki.fingerprint("files2"), 15,
               "the rotated certificate files on a new handshake")
    assert get(conn)[:2] == (200, "files")  # the established connection stays, with its certificate
    assert peer_fingerprint(s) == pki.fingerprint("files1")
    conn.close()
    # a plain file replaced by rename (key first, then certificate), no watched_directory
    for src, dst in ((pki.key("pf2"), "key.pem"), (pki.cert("pf2"), "cert.pem")):
        shutil.copy(src, os.path.join(w.pf, dst + ".tmp"))
        os.replace(os.path.join(w.pf, dst + ".tmp"), os.path.join(w.pf, dst))
    wait_until(lambda: tls_get(w.ports["PLAINFILE"], "plainfile.test", ctx)[2].fingerprint == pki.fingerprint("pf2"),
               15, "the replaced certificate file on a new handshake")
    w.gate.stop_clean()


def test_removed_listener_stops_accepting_and_lets_requests_finish(procs, tmp_path, pki):
    w = TlsWorld(procs, tmp_path, pki)
    sibling = keepalive(w.ports["SIBLING"])
    sock = sibling.sock
    gone = keepalive(w.ports["GONE"])
    gone.request("GET", "/slow/2000")  # in flight while its listener goes
    w.doc["resources"] = [r for r in w.doc["resources"] if r.get("name") != "gone"]
    w.push("Listener")
    r = gone.getresponse()
    assert r.status == 200 and r.read()  # the request finishes ...
    assert (r.getheader("connection") or "").lower() == "close"  # ... and its connection drains
    gone.close()
    wait_until(lambda: refused_or_closed(w.ports["GONE"]), 10, "the removed listener's socket closed")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", w.ports["GONE"]), timeout=5)
    # the listener nobody changed kept its connection, and it does not drain
    status, server, r = get(sibling)
    assert (status, server) == (200, "sibling")
    assert sibling.sock is sock and (r.getheader("connection") or "").lower() != "close"
    sibling.close()
    w.gate.stop_clean()


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_ipv6_listener(procs, tmp_path, pki):
    w = TlsWorld(procs, tmp_path, pki)
    port = harness.free_port()
    v6 = yaml.safe_load(yaml.safe_dump(w.find("Listener", "sibling")))
    v6["name"] = "v6"
    v6["address"]["socket_address"] = {"address": "::1", "port_value": port}
    v6["filter_chains"][0]["filters"][0]["typed_config"]["server_name"] = "v6"
    w.doc["resources"].append(v6)
    w.push("Listener")
    harness.wait_port(port, host="::1")
    r = subprocess.run(["curl", "-s", "-g", "-m", "10", "-D", "-", "-o", "/dev/null", "http://[::1]:%d/" % port],
                       capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    status, headers, _, _ = parse_head(r.stdout.decode("latin-1"))
    assert (status, headers.get("server")) == (200, "v6")
    w.gate.stop_clean()


def test_big_response_over_tls_is_intact(world, pki):
    n = 3 << 20
    s = tls(world.ports["MULTI"], "a.test", client_ctx(pki))
    conn = over(s, "a.test")
    try:
        conn.request("GET", "/pattern/%d" % n)
        r = conn.getresponse()
        body = b""
        while True:  # a slow reader: the proxy's output backs up
            chunk = r.read(65536)
            if not chunk:
                break
            body += chunk
            time.sleep(0.001)
        assert r.status == 200 and len(body) == n
        assert hashlib.sha256(body).digest() == hashlib.sha256(random.Random(n).randbytes(n)).digest()
    finally:
        conn.close()
