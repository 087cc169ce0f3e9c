"""TLS to the control plane (the TLS=openssl flavour; `make test-openssl`).
xdsgate verifies the stub's certificate against --xds-ca and syncs; a wrong
CA gets no config, /xds names the TLS failure and /ready stays 503, and a
corrected CA file is picked up on the next attempt; an unreadable or unusable
PEM file is named in /xds; a stub that requires client certificates (mTLS)
admits xdsgate only with --xds-cert/--xds-key from its CA; --xds-server-name
verifies a certificate that does not name the address dialled. Every
certificate is a throw-away one made with the openssl CLI. The flag checks at
the end run in both flavours; the rest skips in a BoringSSL build, whose gRPC
library has no TLS."""
import os
import re
import secrets
import subprocess

import pytest

import harness
from xds_env import ALL_TYPES, LDS, Gate, Stub, make_cert, names, render, wait_until, write_atomic


def _version():
    try:
        return subprocess.run([harness.binary("xdsgate"), "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError as e:
        return "xdsgate --version failed: %s" % e


VERSION = _version()
OPENSSL = "OpenSSL" in VERSION
needs_openssl = pytest.mark.skipif(
    not OPENSSL, reason="TLS to the control plane needs the TLS=openssl build (gRPC's secure library); the "
    "binaries under test say %r: run make test-openssl" % VERSION)

CLIENT_CN = "xdsgate-test-client"
SERVER_NAME = "xds.example.internal"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


class Ca:
    """A throw-away CA (EC P-256, two days) that issues leaf certificates, all PEM files in workdir."""

    def __init__(self, workdir, name):
        self.dir = workdir
        self.cert, self.key = self._path(name)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=%s" % name)

    def _path(self, name):
        return os.path.join(self.dir, name + ".pem"), os.path.join(self.dir, name + ".key")

    def issue(self, name, cn, usage, san=None):
        """(cert path, key path) of a leaf signed by this CA, for usage serverAuth or clientAuth."""
        cert, key = self._path(name)
        csr, ext = os.path.join(self.dir, name + ".csr"), os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n" % usage)
            if san:
                f.write("subjectAltName=%s\n" % san)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=%s" % cn)
        openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-set_serial",
                str(secrets.randbits(63)), "-days", "2", "-extfile", ext, "-out", cert)
        return cert, key


class Pki:
    """The CA the stub and xdsgate trust, another CA nobody trusts, and their certificates."""

    def __init__(self, workdir):
        self.ca = Ca(workdir, "ca")
        self.other_ca = Ca(workdir, "other-ca")
        self.server = self.ca.issue("server", "control-plane", "serverAuth", "IP:127.0.0.1,DNS:localhost")
        self.named_server = self.ca.issue("named-server", "control-plane", "serverAuth", "DNS:" + SERVER_NAME)
        self.client = self.ca.issue("client", CLIENT_CN, "clientAuth")
        self.rogue_client = self.other_ca.issue("rogue-client", CLIENT_CN, "clientAuth")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


def snapshot(tmp_path):
    """xds_full.yaml (all five types) with a free listener port, written to tmp_path."""
    cert, key = make_cert(str(tmp_path))
    path = str(tmp_path / "snapshot.yaml")
    write_atomic(path, render("xds_full.yaml", {"PORT0": harness.free_port(), "CERT": cert, "KEY": key}))
    return path


def tls_stub(procs, tmp_path, server, client_ca=None):
    extra = ["--tls-cert", server[0], "--tls-key", server[1]]
    if client_ca:
        extra += ["--tls-client-ca", client_ca]
    stub = Stub(procs, snapshot(tmp_path), extra=extra)
    assert stub.events("listening")[0]["tls"] == ("mtls" if client_ca else "tls")
    return stub


def client_flags(pki, ca=None, cert=None):
    flags = ["--xds-ca", ca or pki.ca.cert]
    if cert:
        flags += ["--xds-cert", cert[0], "--xds-key", cert[1]]
    return flags


def assert_synced(stub, gate):
    """Ready, every type ACKed over the TLS stream, nothing NACKed."""
    gate.wait_ready(timeout=15)
    for t in ALL_TYPES:
        stub.wait_event("ack", type_url=t)
    assert stub.events("nack") == []
    assert gate.xds()["connection"]["state"] == "connected"
    assert names(gate.dump(), LDS) == ["http"]


def assert_cannot_connect(stub, gate, detail):
    """Two failed attempts in a row: /xds in backoff with detail matching the regex, /ready 503, no config,
    and no stream ever opened on the stub (the handshake failed before gRPC saw a call)."""
    wait_until(lambda: len(re.findall(r"ads: stream to \S+ ended", gate.proc.stderr())) >= 2, timeout=15,
               what="two failed attempts; xdsgate log tail:\n" + gate.proc.stderr()[-3000:])
    conn = wait_until(lambda: (lambda c: c["state"] == "backoff" and c)(gate.xds()["connection"]),
                      what="/xds connection state backoff")
    assert re.search(detail, conn["detail"]), conn
    assert gate.get("/ready")[0] == 503
    assert gate.xds()["ready"] is False
    assert names(gate.dump(), LDS) == []
    assert stub.events("stream_open") == [] and stub.events("ack") == []


@needs_openssl
@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_tls_with_the_right_ca_syncs_every_type(procs, tmp_path, pki, mode):
    stub = tls_stub(procs, tmp_path, pki.server)
    gate = Gate(procs, stub.port, mode, extra=client_flags(pki))
    assert_synced(stub, gate)
    assert "%s mode, TLS" % mode in gate.proc.stderr()
    assert "client_identity" not in stub.events("stream_open")[0]  # no client certificate was asked for
    gate.stop_clean()


@needs_openssl
def test_the_certificate_san_localhost_matches_a_host_name_target(procs, tmp_path, pki):
    stub = tls_stub(procs, tmp_path, pki.server)
    gate = Gate(procs, stub.port, extra=client_flags(pki), server_host="localhost")
    assert_synced(stub, gate)
    gate.stop_clean()


@needs_openssl
def test_a_wrong_ca_gets_no_config_until_the_ca_file_is_fixed(procs, tmp_path, pki):
    stub = tls_stub(procs, tmp_path, pki.server)
    ca_file = str(tmp_path / "mounted-ca.pem")
    with open(pki.other_ca.cert) as f:
        write_atomic(ca_file, f.read())
    gate = Gate(procs, stub.port, extra=client_flags(pki, ca=ca_file))
    assert_cannot_connect(stub, gate, r"UNAVAILABLE: .*[Hh]andshake failed.*certificate verify failed")
    assert "certificate verify failed" in gate.proc.stderr()
    # The CA file is read again on every attempt: a rotated (here: corrected) mount needs no restart.
    with open(pki.ca.cert) as f:
        write_atomic(ca_file, f.read())
    gate.wait_ready(timeout=40)  # within the reconnect backoff (at most 30 s)
    assert_synced(stub, gate)
    gate.stop_clean()


@needs_openssl
def test_unreadable_or_unusable_tls_files_are_reported_in_xds(procs, tmp_path, pki):
    stub = tls_stub(procs, tmp_path, pki.server)
    missing, garbage = str(tmp_path / "no-such-ca.pem"), str(tmp_path / "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    cases = [(client_flags(pki, ca=missing), r"cannot read the TLS file %s: No such file" % re.escape(missing)),
             (client_flags(pki, ca=garbage), r"the TLS file %s holds no PEM certificate" % re.escape(garbage)),
             (client_flags(pki, cert=(pki.client[0], pki.server[1])),  # someone else's key
              r"%s and %s are not a PEM certificate and its private key" % (re.escape(pki.client[0]),
                                                                             re.escape(pki.server[1])))]
    for flags, detail in cases:
        gate = Gate(procs, stub.port, extra=flags)
        assert_cannot_connect(stub, gate, r"^INTERNAL: " + detail)
        gate.stop_clean()


@needs_openssl
def test_mtls_admits_only_a_client_certificate_from_the_stubs_ca(procs, tmp_path, pki):
    stub = tls_stub(procs, tmp_path, pki.server, client_ca=pki.ca.cert)
    # With TLS 1.3 the client learns only that the server closed the connection.
    without = Gate(procs, stub.port, extra=client_flags(pki))
    assert_cannot_connect(stub, without, r"UNAVAILABLE")
    without.stop_clean()
    rogue = Gate(procs, stub.port, extra=client_flags(pki, cert=pki.rogue_client))
    assert_cannot_connect(stub, rogue, r"UNAVAILABLE")
    rogue.stop_clean()
    gate = Gate(procs, stub.port, extra=client_flags(pki, cert=pki.client))
    assert_synced(stub, gate)
    assert "mutual TLS" in gate.proc.stderr()
    assert [e.get("client_identity") for e in stub.events("stream_open")] == [CLIENT_CN]
    gate.stop_clean()


@needs_openssl
def test_xds_server_name_verifies_a_certificate_that_does_not_name_the_address(procs, tmp_path, pki):
    stub = tls_stub(procs, tmp_path, pki.named_server)
    plain = Gate(procs, stub.port, extra=client_flags(pki))
    assert_cannot_connect(stub, plain, r"127\.0\.0\.1 is not in peer certificate")
    plain.stop_clean()
    gate = Gate(procs, stub.port, extra=client_flags(pki) + ["--xds-server-name", SERVER_NAME])
    assert_synced(stub, gate)
    gate.stop_clean()


def run(procs, *argv):
    p = procs.start(list(argv))
    return p.wait(timeout=10), p.stderr()


def test_tls_flags_in_this_flavour(procs, tmp_path):
    stub, gate = harness.binary("control-plane-stub"), harness.binary("xdsgate")
    snap = os.path.join(os.path.dirname(__file__), "snapshots", "basic.yaml")
    base = [stub, "--port", "0", "--snapshot", snap]
    if not OPENSSL:
        for flag in ("--tls-cert", "--tls-key", "--tls-client-ca"):
            rc, err = run(procs, *base, flag, "/x.pem")
            assert rc == 2 and flag in err and "make TLS=openssl" in err, err
        rc, err = run(procs, gate, "--xds-server-name", SERVER_NAME)
        assert rc == 2 and "--xds-server-name" in err and "make TLS=openssl" in err, err
        return
    rc, err = run(procs, *base, "--tls-cert", "/x.pem")
    assert rc == 2 and "needs both --tls-cert and --tls-key" in err, err
    rc, err = run(procs, *base, "--tls-client-ca", "/x.pem")
    assert rc == 2 and "needs both --tls-cert and --tls-key" in err, err
    missing = str(tmp_path / "missing.pem")
    rc, err = run(procs, *base, "--tls-cert", missing, "--tls-key", missing)
    assert rc == 1 and "cannot read a TLS file: %s: No such file" % missing in err, err
    rc, err = run(procs, gate, "--xds-server-name", SERVER_NAME)
    assert rc == 2 and "--xds-server-name needs --xds-ca" in err, err
