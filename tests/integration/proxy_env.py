"""Helpers for the proxy tests (test_proxy_*.py): the upstream servers of
upstreams.py, a test CA and a server certificate for secure.test, the
proxy_basic.yaml snapshot rendered with free ports, the stub serving it and
xdsgate, plus small clients: raw sockets, http.client keep-alive
connections and curl."""
import json
import os
import socket
import subprocess
import time

import yaml

import harness
from xds_env import Gate, Stub, render, wait_until, write_atomic

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


def have_grpc():
    try:
        import grpc  # noqa: F401
        return True
    except ImportError:
        return False


def make_ca_and_cert(workdir, names=("secure.test",)):
    """A throw-away CA and a server certificate (SANs names) signed by it; returns (ca, cert, key) file names."""
    ca, ca_key = os.path.join(workdir, "ca.pem"), os.path.join(workdir, "ca.key")
    cert, key, csr = (os.path.join(workdir, n) for n in ("server.pem", "server.key", "server.csr"))
    ext = os.path.join(workdir, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n")
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=xdsgate test CA")
    run("openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0])
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
        "-days", "2", "-extfile", ext)
    return ca, cert, key


def have_nghttpd():
    return os.path.exists("/usr/sbin/nghttpd") or subprocess.run(["sh", "-c", "command -v nghttpd"],
                                                                   capture_output=True).returncode == 0


def start_nghttpd(procs, docroot):
    """An HTTP/2 (h2c) upstream serving docroot: nghttpd from Debian's nghttp2-server."""
    port = harness.free_port()
    nghttpd = "/usr/sbin/nghttpd" if os.path.exists("/usr/sbin/nghttpd") else "nghttpd"
    procs.start([nghttpd, "--no-tls", "-d", docroot, str(port)], name="nghttpd")
    harness.wait_port(port)
    return port


def start_upstream(procs, kind, name):
    port = harness.free_port()
    p = procs.start([PY, os.path.join(HERE, "upstreams.py"), kind, str(port), name], name="up-" + name)
    p.wait_output("listening", stream="stdout", timeout=15)
    return port


class ProxyWorld:
    """Upstreams a and b (and grpc when python3-grpcio is there), the stub with
    proxy_basic.yaml, and xdsgate with its listeners up."""

    def __init__(self, procs, tmp_path, mode="sotw", grpc=False, extra=()):
        self.procs = procs
        self.tmp = str(tmp_path)
        self.up_a = start_upstream(procs, "http", "a")
        self.up_b = start_upstream(procs, "http", "b")
        self.grpc = start_upstream(procs, "grpc", "g") if grpc else harness.free_port()
        self.docroot = os.path.join(self.tmp, "docroot")
        os.makedirs(self.docroot, exist_ok=True)
        with open(os.path.join(self.docroot, "file.bin"), "wb") as f:
            f.write(os.urandom(300000))
        self.h2up = start_nghttpd(procs, self.docroot) if have_nghttpd() else harness.free_port()
        self.ca, cert, key = make_ca_and_cert(self.tmp)
        self.port = harness.free_port()
        self.tls_port = harness.free_port()
        self.tight = harness.free_port()
        self.subst = {"LISTEN": self.port, "TLS_LISTEN": self.tls_port, "TIGHT": self.tight, "UP_A": self.up_a,
                      "UP_B": self.up_b, "GRPC": self.grpc, "H2UP": self.h2up, "DEAD": harness.free_port(),
                      "CERT": cert, "KEY": key}
        self.path = os.path.join(self.tmp, "snapshot.yaml")
        self.doc = yaml.safe_load(render("proxy_basic.yaml", self.subst))
        self.save()
        self.stub = Stub(procs, self.path)
        self.gate = Gate(procs, self.stub.port, mode, list(extra) + ["--log-level", "debug"])
        self.gate.wait_ready()
        harness.wait_port(self.port)
        harness.wait_port(self.tls_port)
        harness.wait_port(self.tight)

    def save(self):
        write_atomic(self.path, yaml.safe_dump(self.doc, sort_keys=False))

    def resources(self, type_suffix):
        return [r for r in self.doc["resources"] if r["@type"].endswith(type_suffix)]

    def find(self, type_suffix, name):
        for r in self.resources(type_suffix):
            if r.get("name", r.get("cluster_name")) == name:
                return r
        raise KeyError(name)

    def route_config(self):
        return self.find("RouteConfiguration", "main")

    def vhost(self, name="default"):
        return [v for v in self.route_config()["virtual_hosts"] if v["name"] == name][0]

    def push(self, type_url_suffix="RouteConfiguration", count=None):
        """Saves the document and waits for the stub to see xdsgate ACK the next version of that type."""
        before = len([e for e in self.stub.events("ack") if e["type_url"].endswith(type_url_suffix)])
        self.save()
        self.stub.wait_event("ack", count=1)
        # generous: sanitizer builds on a loaded 2-core CI machine are slow, and a fast ACK passes at once
        wait_until(lambda: len([e for e in self.stub.events("ack") if e["type_url"].endswith(type_url_suffix)])
                   > before, 30, "ACK of the new %s; xdsgate log tail:\n%s" % (type_url_suffix,
                                                                         self.gate.proc.stderr()[-3000:]))
        time.sleep(0.2)  # the workers apply the published snapshot at their next loop iteration

    def url(self, path, tls=False, port=None):
        if tls:
            return "https://secure.test:%d%s" % (self.tls_port, path)
        return "http://127.0.0.1:%d%s" % (port or self.port, path)

    def curl(self, path, *args, tls=False, port=None):
        """(status, headers dict (last value wins, lowercase), body bytes) via curl."""
        argv = ["curl", "-s", "-S", "-m", "10", "-D", "-", "-o", os.path.join(self.tmp, "body")]
        if tls:
            argv += ["--cacert", self.ca, "--resolve", "secure.test:%d:127.0.0.1" % self.tls_port]
        r = subprocess.run(argv + list(args) + [self.url(path, tls, port)], capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr.decode()
        return parse_head(r.stdout.decode("latin-1")) + (open(os.path.join(self.tmp, "body"), "rb").read(),)


def parse_head(text):
    """The last response head of curl -D output: (status, {name: value}, [(name, value)...], version)."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    lines = blocks[-1].split("\n")
    version, status = lines[0].split(" ")[0], int(lines[0].split(" ")[1])
    pairs = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
    pairs = [(k.lower(), v) for k, v in pairs]
    return status, dict(pairs), pairs, version


def echo(body):
    """The upstream's JSON description of the request it received."""
    return json.loads(body)


def header_values(desc, name):
    return [v for k, v in desc["headers"] if k == name]


def raw(port, data, timeout=3.0, read_until_close=True):
    """Sends bytes on a fresh connection and returns everything read until close or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close and b"\r\n\r\n" in out:
                break
        return out
    finally:
        s.close()


def status_of(resp):
    """The status code of the first response in raw bytes (0 when none)."""
    if not resp.startswith(b"HTTP/1."):
        return 0
    return int(resp.split(b" ", 2)[1])
