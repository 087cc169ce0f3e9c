"""Helpers for the xDS client tests (test_xds.py, test_xds_unknown.py): a
control-plane stub that can be killed and restarted on its port, an xdsgate
with its admin API, snapshot templates, a throw-away certificate, and
readers for /xds and /config_dump."""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(HERE, "snapshots")

LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
SDS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
ALL_TYPES = [LDS, RDS, CDS, EDS, SDS]
ABBREV = {LDS: "LDS", RDS: "RDS", CDS: "CDS", EDS: "EDS", SDS: "SDS"}


def wait_until(fn, timeout=10.0, what="condition", interval=0.05):
    """Polls fn() until it returns something truthy; returns it or raises."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def make_cert(workdir):
    """A self-signed EC certificate and key (PEM strings) made with openssl."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=xdsgate-test"],
                   check=True, capture_output=True)
    with open(cert) as c, open(key) as k:
        return c.read(), k.read()


def render(name, subst):
    """A snapshot template from snapshots/ with its __TOKENS__ replaced (values JSON-quoted when strings)."""
    with open(os.path.join(SNAPSHOTS, name)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("__%s__" % k, json.dumps(v) if isinstance(v, str) else str(v))
    return text


def write_atomic(path, text):
    """Replaces the file in one rename, so the stub never reads half of it."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_events(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


class Stub:
    """control-plane-stub on a fixed port, restartable; events from its JSON-lines stdout."""

    def __init__(self, procs, snapshot, port=None, extra=()):
        self.procs = procs
        self.snapshot = snapshot
        self.port = port or harness.free_port()
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        self.proc = self.procs.start([harness.binary("control-plane-stub"), "--port", str(self.port),
                                      "--snapshot", self.snapshot] + self.extra, name="stub")
        self.proc.wait_output(r'"event":"listening"', stream="stdout")

    def kill(self):
        self.proc.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def events(self, kind=None, **match):
        return [e for e in read_events(self.proc.stdout()) if (kind is None or e["event"] == kind)
                and all(e.get(k) == v for k, v in match.items())]

    def wait_event(self, kind, timeout=10.0, count=1, **match):
        return wait_until(lambda: len(self.events(kind, **match)) >= count and self.events(kind, **match),
                          timeout, "stub event %s %r x%d; log tail:\n%s" % (kind, match, count,
                                                                           self.proc.stdout()[-3000:]))


def http(port, path, method="GET"):
    """(status, body text) of an admin request."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Gate:
    """xdsgate pointed at a control plane, with helpers for its admin API."""

    def __init__(self, procs, server_port, mode="sotw", extra=(), server_host="127.0.0.1"):
        self.admin = harness.free_port()
        self.proc = procs.start([harness.binary("xdsgate"), "--xds-server", "%s:%d" % (server_host, server_port),
                                 "--xds-mode", mode, "--admin", "127.0.0.1:%d" % self.admin, "--concurrency", "2",
                                 "--node-id", "xds-test"] + list(extra), name="xdsgate")
        self.proc.wait_output(r"admin: listening on", timeout=10)
        harness.wait_port(self.admin)

    def get(self, path, method="GET"):
        return http(self.admin, path, method)

    def ready(self):
        return self.get("/ready")[0] == 200

    def wait_ready(self, timeout=10.0):
        wait_until(self.ready, timeout, "/ready 200; xdsgate log tail:\n" + self.proc.stderr()[-3000:])

    def xds(self):
        status, body = self.get("/xds")
        assert status == 200, body
        return json.loads(body)

    def dump(self):
        status, body = self.get("/config_dump")
        assert status == 200, body
        return json.loads(body)

    def stop_clean(self):
        """SIGTERM: exit 0 with no sanitizer report."""
        self.proc.signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        err = self.proc.stderr()
        assert rc == 0, "xdsgate exited %s:\n%s" % (rc, err[-4000:])
        assert "Sanitizer" not in err and "runtime error" not in err, err[-4000:]


def section(dump, kind):
    """The ConfigDump section whose @type ends with kind (e.g. "ClustersConfigDump")."""
    for c in dump["configs"]:
        if c["@type"].endswith("." + kind):
            return c
    raise KeyError(kind)


def active(dump):
    """{type_url: {name: (version_info, resource, last_updated)}} of the active resources in a dump."""
    out = {t: {} for t in ALL_TYPES}
    for d in section(dump, "ClustersConfigDump").get("dynamic_active_clusters", []):
        out[CDS][d["cluster"]["name"]] = (d.get("version_info"), d["cluster"], d["last_updated"])
    for d in section(dump, "EndpointsConfigDump").get("dynamic_endpoint_configs", []):
        out[EDS][d["endpoint_config"]["cluster_name"]] = (d.get("version_info"), d["endpoint_config"],
                                                           d["last_updated"])
    for d in section(dump, "ListenersConfigDump").get("dynamic_listeners", []):
        if "active_state" in d:
            s = d["active_state"]
            out[LDS][d["name"]] = (s.get("version_info"), s["listener"], s["last_updated"])
    for d in section(dump, "RoutesConfigDump").get("dynamic_route_configs", []):
        out[RDS][d["route_config"]["name"]] = (d.get("version_info"), d["route_config"], d["last_updated"])
    for d in section(dump, "SecretsConfigDump").get("dynamic_active_secrets", []):
        out[SDS][d["name"]] = (d.get("version_info"), d["secret"], d["last_updated"])
    return out


def names(dump, type_url):
    return sorted(active(dump)[type_url])
