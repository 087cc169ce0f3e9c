"""control-plane-stub against a real ADS client (@grpc/grpc-js with Envoy's
official protos, tests/integration/ads_client.js): state of the world and
delta, ACK/NACK logging, reloads on file change and SIGHUP, broken files,
--check, and a clean exit on SIGTERM."""
import copy
import json
import os
import signal
import subprocess
import time

import pytest
import yaml

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(HERE, "snapshots")
BASIC = os.path.join(SNAPSHOTS, "basic.yaml")

LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
SDS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
# What each type subscribes to in basic.yaml: wildcard for LDS/CDS, names otherwise.
SUBS = {LDS: [], RDS: ["local_route"], CDS: [], EDS: ["backend"], SDS: ["server_cert"]}

# How long "nothing else arrives" is watched for: several file polls (200 ms).
QUIET = 1.0


@pytest.fixture(scope="module")
def node_env():
    """Installs the pinned Node packages and fetches the official protos once,
    into the plain build/ tree whichever build is under test (they are test
    tools, not sanitized code)."""
    build = os.path.join(harness.ROOT, "build")
    subprocess.run(["bash", os.path.join(HERE, "node_deps.sh"), build], check=True)
    official = os.path.join(build, "compat", "official")
    subprocess.run(["bash", os.path.join(harness.ROOT, "tests", "compat", "fetch_official.sh"), official],
                   check=True)
    return {"modules": os.path.join(build, "node", "node_modules"), "protos": official}


@pytest.fixture
def start_stub(procs):
    """Starts stubs; at the end of the test each must shut down cleanly (streams still open)."""
    started = []

    def start(snapshot, extra=()):
        stub = Stub(procs, snapshot, extra)
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop_clean()


def load_basic():
    with open(BASIC) as f:
        return yaml.safe_load(f)


def write_snapshot(path, doc):
    """Replaces the file atomically, so the stub never reads half of it."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    os.replace(tmp, path)


def find(doc, type_url, name):
    for r in doc["resources"]:
        if r["@type"] == type_url and r.get("name", r.get("cluster_name")) == name:
            return r
    raise KeyError(name)


def read_events(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


class Stub:
    """The stub process and its JSON-lines event log (stdout)."""

    def __init__(self, procs, snapshot, extra=()):
        self.port = harness.free_port()
        self.snapshot = snapshot
        self.proc = procs.start([harness.binary("control-plane-stub"), "--port", str(self.port),
                                 "--snapshot", snapshot] + list(extra), name="stub")
        self.proc.wait_output(r'"event":"listening"', stream="stdout")

    def stop_clean(self):
        """SIGTERM; the stub must exit 0 with no sanitizer report (ASan builds)."""
        self.proc.signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        err = self.proc.stderr()
        assert rc == 0, "stub exited %s; stderr:\n%s" % (rc, err[-4000:])
        assert "Sanitizer" not in err and "runtime error" not in err, err[-4000:]

    def events(self, kind=None, **match):
        evs = read_events(self.proc.stdout())
        return [e for e in evs if (kind is None or e["event"] == kind)
                and all(e.get(k) == v for k, v in match.items())]

    def wait_event(self, kind, timeout=10.0, count=1, **match):
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events(kind, **match)
            if len(evs) >= count:
                return evs
            if time.monotonic() > deadline or not self.proc.alive():
                raise AssertionError("stub: no %d x %s %r; log:\n%s" % (count, kind, match, self.proc.stdout()[-4000:]))
            time.sleep(0.05)


class Client:
    """One ADS stream driven through ads_client.js's JSON-lines protocol."""

    def __init__(self, procs, env, port, mode="sotw", node_id="test-node"):
        self.mode = mode
        self.proc = procs.start(["node", os.path.join(HERE, "ads_client.js"), "--server", "127.0.0.1:%d" % port,
                                 "--mode", mode, "--protos", env["protos"], "--node-id", node_id],
                                name="ads-" + mode, stdin=subprocess.PIPE, env={"XG_NODE_MODULES": env["modules"]})
        self.proc.wait_output(r'"event":"ready"', stream="stdout", timeout=30)

    def send(self, **cmd):
        cmd.setdefault("op", "sotw_request" if self.mode == "sotw" else "delta_request")
        self.proc.p.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.p.stdin.flush()

    def responses(self, type_url=None, stream=0):
        return [e for e in read_events(self.proc.stdout())
                if e["event"] == "response" and e["stream"] == stream and type_url in (None, e["type_url"])]

    def wait_response(self, type_url, count=1, timeout=10.0, stream=0):
        """Waits until count responses of type_url have arrived on stream; returns the last."""
        deadline = time.monotonic() + timeout
        while True:
            rs = self.responses(type_url, stream)
            if len(rs) >= count:
                return rs[count - 1]
            if time.monotonic() > deadline or not self.proc.alive():
                raise AssertionError("client: no response #%d for %s; output:\n%s\nstderr:\n%s" % (
                    count, type_url, self.proc.stdout()[-4000:], self.proc.stderr()[-2000:]))
            time.sleep(0.05)

    def ack(self, resp, names=None, stream=0):
        if self.mode == "sotw":
            self.send(type_url=resp["type_url"], resource_names=names or [], stream=stream,
                      version_info=resp["version_info"], response_nonce=resp["nonce"])
        else:
            self.send(type_url=resp["type_url"], response_nonce=resp["nonce"], stream=stream)


def subscribe_all(client):
    """SotW: subscribes to all five types of basic.yaml and ACKs each first response."""
    out = {}
    for t, names in SUBS.items():
        client.send(type_url=t, resource_names=names)
        out[t] = client.wait_response(t)
        client.ack(out[t], names)
    return out


# --- state of the world ---

def test_sotw_initial_sync_of_all_types_is_acked(procs, start_stub, node_env):
    stub = start_stub(BASIC)
    client = Client(procs, node_env, stub.port)
    got = subscribe_all(client)
    assert {t: r["names"] for t, r in got.items()} == {
        LDS: ["listener_http"], RDS: ["local_route"], CDS: ["backend"], EDS: ["backend"], SDS: ["server_cert"]}
    assert all(r["version_info"] == "1" for r in got.values())
    assert len({r["nonce"] for r in got.values()}) == 5  # a fresh nonce per response
    hcm = got[LDS]["resources"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["@type"].endswith("HttpConnectionManager") and hcm["rds"]["route_config_name"] == "local_route"
    ports = [e["endpoint"]["address"]["socket_address"]["port_value"]
             for e in got[EDS]["resources"][0]["endpoints"][0]["lb_endpoints"]]
    assert ports == [18080, 18081]
    assert got[CDS]["resources"][0]["type"] == "EDS"
    acks = stub.wait_event("ack", count=5, node="test-node")
    assert {(a["type_url"], a["version"], a["nonce"]) for a in acks} == {
        (t, "1", r["nonce"]) for t, r in got.items()}
    assert stub.events("stream_open", mode="sotw")


def test_sotw_nack_is_logged_and_the_version_not_resent(procs, start_stub, node_env, tmp_path):
    path = str(tmp_path / "snap.yaml")
    doc = load_basic()
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port)
    client.send(type_url=LDS)
    first = client.wait_response(LDS)
    client.send(type_url=LDS, version_info="", response_nonce=first["nonce"],
                error_detail={"code": 3, "message": "listener_http: port 10000 is \"taken\""})
    nack = stub.wait_event("nack")[0]
    assert nack["error_code"] == 3 and nack["error_message"] == 'listener_http: port 10000 is "taken"'
    assert nack["nonce"] == first["nonce"] and nack["rejected_version"] == "1" and nack["node"] == "test-node"
    time.sleep(QUIET)
    assert len(client.responses(LDS)) == 1  # the rejected version is not pushed again
    # A new version of the type is sent even though the last one was NACKed.
    find(doc, LDS, "listener_http")["address"]["socket_address"]["port_value"] = 10001
    write_snapshot(path, doc)
    second = client.wait_response(LDS, count=2)
    assert second["version_info"] == "2"
    assert second["resources"][0]["address"]["socket_address"]["port_value"] == 10001


def test_sotw_stale_nonce_is_ignored(procs, start_stub, node_env):
    stub = start_stub(BASIC)
    client = Client(procs, node_env, stub.port)
    client.send(type_url=CDS)
    client.wait_response(CDS)
    client.send(type_url=CDS, resource_names=["backend", "other"], version_info="1", response_nonce="999")
    stub.wait_event("stale", nonce="999")
    time.sleep(QUIET)
    assert len(client.responses(CDS)) == 1
    assert not stub.events("ack") and not stub.events("nack")


def test_file_change_pushes_only_the_changed_type(procs, start_stub, node_env, tmp_path):
    path = str(tmp_path / "snap.yaml")
    doc = load_basic()
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port)
    subscribe_all(client)
    stub.wait_event("ack", count=5)
    cla = find(doc, EDS, "backend")
    cla["endpoints"][0]["lb_endpoints"][1]["endpoint"]["address"]["socket_address"]["port_value"] = 18082
    write_snapshot(path, doc)
    resp = client.wait_response(EDS, count=2)
    assert resp["version_info"] == "2"
    ports = [e["endpoint"]["address"]["socket_address"]["port_value"]
             for e in resp["resources"][0]["endpoints"][0]["lb_endpoints"]]
    assert ports == [18080, 18082]
    reload_ev = stub.wait_event("snapshot_reloaded")[0]
    assert reload_ev["changed"] == [EDS] and reload_ev["trigger"] == "file_changed"
    assert reload_ev["versions"] == {"Listener": "1", "RouteConfiguration": "1", "Cluster": "1",
                                     "ClusterLoadAssignment": "2", "Secret": "1"}
    client.ack(resp, ["backend"])
    stub.wait_event("ack", type_url=EDS, version="2")
    time.sleep(QUIET)
    assert {t: len(client.responses(t)) for t in SUBS} == {LDS: 1, RDS: 1, CDS: 1, EDS: 2, SDS: 1}


@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_a_change_to_every_type_is_pushed_in_make_before_break_order(procs, start_stub, node_env, tmp_path, mode):
    # The xDS protocol's order: what is referenced (secrets, clusters, their
    # endpoints) before what references it (listeners, then routes).
    path = str(tmp_path / "snap.yaml")
    doc = load_basic()
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port, mode=mode)
    first = subscribe_all(client) if mode == "sotw" else delta_subscribe_all(client)
    stub.wait_event("ack", count=5)
    find(doc, LDS, "listener_http")["address"]["socket_address"]["port_value"] = 10001
    find(doc, RDS, "local_route")["virtual_hosts"][0]["routes"][0]["route"]["timeout"] = "16s"
    find(doc, CDS, "backend")["connect_timeout"] = "0.5s"
    find(doc, EDS, "backend")["endpoints"][0]["lb_endpoints"][1]["endpoint"]["address"]["socket_address"][
        "port_value"] = 18082
    find(doc, SDS, "server_cert")["tls_certificate"]["certificate_chain"]["inline_string"] += "\n"
    write_snapshot(path, doc)
    for t in SUBS:
        client.wait_response(t, count=2)
    order = [e["type_url"] for e in read_events(client.proc.stdout()) if e["event"] == "response"][len(first):]
    assert order == [SDS, CDS, EDS, LDS, RDS], order


def test_sighup_reloads_the_file(procs, start_stub, node_env, tmp_path):
    path = str(tmp_path / "snap.yaml")
    text = open(BASIC).read()
    write_snapshot(path, text)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port)
    client.send(type_url=CDS)
    client.wait_response(CDS)
    # Same size, same inode, old mtime: the file poll cannot see this edit, only SIGHUP can.
    st = os.stat(path)
    with open(path, "r+") as f:
        f.write(text.replace("connect_timeout: 0.25s", "connect_timeout: 0.75s"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(QUIET)
    assert len(client.responses(CDS)) == 1
    stub.proc.signal(signal.SIGHUP)
    resp = client.wait_response(CDS, count=2)
    assert resp["version_info"] == "2" and resp["resources"][0]["connect_timeout"]["nanos"] == 750000000
    assert stub.wait_event("snapshot_reloaded", trigger="sighup")[0]["changed"] == [CDS]


BROKEN = {
    "bad_yaml": ("resources:\n- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: [oops\n",
                 "line "),
    "unknown_type": (lambda d: d["resources"][0].update({"@type": "type.googleapis.com/envoy.config.listener.v3.Nope"}),
                     "resources[0]"),
    "unknown_field": (lambda d: d["resources"][0]["filter_chains"][0]["filters"][0]["typed_config"].update(
        {"bogus_field": 1}), "resources[0].filter_chains[0].filters[0].typed_config.bogus_field"),
    "wrong_type": (lambda d: d["resources"][1]["virtual_hosts"][0].update({"domains": "*"}),
                   "resources[1].virtual_hosts[0].domains"),
    "not_xds_type": (lambda d: d["resources"].append(
        {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}), "resources[5]: @type"),
    "duplicate_name": (lambda d: d["resources"].append(copy.deepcopy(d["resources"][2])),
                       'resources[5].name: duplicate Cluster "backend"'),
}


def broken_text(kind):
    change, _ = BROKEN[kind]
    if isinstance(change, str):
        return change
    doc = load_basic()
    change(doc)
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_file_is_rejected_and_old_snapshot_still_served(procs, start_stub, node_env, tmp_path, kind):
    path = str(tmp_path / "snap.yaml")
    doc = load_basic()
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port)
    client.send(type_url=LDS)
    client.wait_response(LDS)
    write_snapshot(path, broken_text(kind))
    err = stub.wait_event("snapshot_error")[0]
    assert BROKEN[kind][1] in err["error"], err
    # A new stream still gets the old snapshot; the open one gets nothing.
    late = Client(procs, node_env, stub.port)
    late.send(type_url=LDS)
    resp = late.wait_response(LDS)
    assert resp["version_info"] == "1" and resp["names"] == ["listener_http"]
    assert len(client.responses(LDS)) == 1
    # A good file afterwards is served again.
    find(doc, LDS, "listener_http")["address"]["socket_address"]["port_value"] = 10002
    write_snapshot(path, doc)
    assert client.wait_response(LDS, count=2)["version_info"] == "2"


def test_many_concurrent_streams_each_get_pushes(procs, start_stub, node_env, tmp_path):
    n = 20
    path = str(tmp_path / "snap.yaml")
    doc = load_basic()
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port)
    for i in range(n):
        client.send(stream=i, type_url=LDS)
    for i in range(n):
        client.ack(client.wait_response(LDS, stream=i), stream=i)
    stub.wait_event("ack", count=n)
    assert len({e["stream"] for e in stub.events("stream_open")}) == n
    port = find(doc, LDS, "listener_http")["address"]["socket_address"]
    port["port_value"] = 10005
    write_snapshot(path, doc)
    for i in range(n):
        assert client.wait_response(LDS, count=2, stream=i)["version_info"] == "2"
    for i in range(0, n, 2):
        client.send(op="close", stream=i)
    stub.wait_event("stream_closed", count=n // 2)
    port["port_value"] = 10006
    write_snapshot(path, doc)
    for i in range(1, n, 2):
        assert client.wait_response(LDS, count=3, stream=i)["version_info"] == "3"
    assert all(len(client.responses(LDS, stream=i)) == 2 for i in range(0, n, 2))


def test_other_methods_get_unimplemented(procs, start_stub, node_env):
    stub = start_stub(BASIC)
    r = subprocess.run(["node", os.path.join(HERE, "ads_client.js"), "--server", "127.0.0.1:%d" % stub.port,
                        "--unary", "/envoy.service.discovery.v3.AggregatedDiscoveryService/FetchListeners"],
                       capture_output=True, text=True, timeout=30, env=dict(os.environ, XG_NODE_MODULES=node_env["modules"]))
    assert json.loads(r.stdout)["code"] == 12, r.stdout + r.stderr  # UNIMPLEMENTED
    assert stub.wait_event("unimplemented")[0]["method"].endswith("/FetchListeners")
    client = Client(procs, node_env, stub.port)
    client.send(type_url=CDS)
    assert client.wait_response(CDS)["names"] == ["backend"]


# --- delta ---

def delta_subscribe_all(client):
    out = {}
    for t, names in SUBS.items():
        client.send(type_url=t, resource_names_subscribe=names)
        out[t] = client.wait_response(t)
        client.ack(out[t])
    return out


def two_listener_doc():
    doc = load_basic()
    extra = copy.deepcopy(find(doc, LDS, "listener_http"))
    extra["name"] = "listener_b"
    extra["address"]["socket_address"]["port_value"] = 10001
    doc["resources"].insert(1, extra)
    return doc


def test_delta_initial_sync_of_all_types_is_acked(procs, start_stub, node_env):
    stub = start_stub(BASIC)
    client = Client(procs, node_env, stub.port, mode="delta")
    got = delta_subscribe_all(client)
    assert {t: r["names"] for t, r in got.items()} == {
        LDS: ["listener_http"], RDS: ["local_route"], CDS: ["backend"], EDS: ["backend"], SDS: ["server_cert"]}
    for r in got.values():
        assert r["system_version_info"] == "1" and r["removed_resources"] == []
        assert len(r["resources"][0]["version"]) == 16  # xxHash64 hex
    assert got[SDS]["resources"][0]["resource"]["tls_certificate"]["certificate_chain"]["inline_string"].startswith(
        "-----BEGIN CERTIFICATE-----")
    acks = stub.wait_event("ack", count=5, mode="delta")
    assert {a["nonce"] for a in acks} == {r["nonce"] for r in got.values()}


def test_delta_initial_resource_versions_are_honoured(procs, start_stub, node_env, tmp_path):
    path = str(tmp_path / "snap.yaml")
    write_snapshot(path, two_listener_doc())
    stub = start_stub(path)
    first = Client(procs, node_env, stub.port, mode="delta")
    first.send(type_url=LDS)
    versions = {r["name"]: r["version"] for r in first.wait_response(LDS)["resources"]}
    assert sorted(versions) == ["listener_b", "listener_http"]
    # A reconnecting client that holds listener_http at the current version, listener_b at
    # an old one, and a listener that no longer exists.
    again = Client(procs, node_env, stub.port, mode="delta", node_id="again")
    again.send(type_url=LDS, initial_resource_versions={
        "listener_http": versions["listener_http"], "listener_b": "0000000000000000", "gone": "1234"})
    resp = again.wait_response(LDS)
    assert resp["names"] == ["listener_b"]
    assert resp["resources"][0]["version"] == versions["listener_b"]
    assert resp["removed_resources"] == ["gone"]


def test_delta_removed_resource_is_reported(procs, start_stub, node_env, tmp_path):
    path = str(tmp_path / "snap.yaml")
    doc = two_listener_doc()
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port, mode="delta")
    client.send(type_url=LDS)
    client.ack(client.wait_response(LDS))
    doc["resources"] = [r for r in doc["resources"] if r.get("name") != "listener_b"]
    write_snapshot(path, doc)
    resp = client.wait_response(LDS, count=2)
    assert resp["removed_resources"] == ["listener_b"] and resp["resources"] == []
    assert resp["system_version_info"] == "2"
    client.ack(resp)
    stub.wait_event("ack", mode="delta", version="2")


def test_delta_unsubscribe_stops_updates(procs, start_stub, node_env, tmp_path):
    path = str(tmp_path / "snap.yaml")
    doc = load_basic()
    other = copy.deepcopy(find(doc, EDS, "backend"))
    other["cluster_name"] = "other"
    doc["resources"].append(other)
    write_snapshot(path, doc)
    stub = start_stub(path)
    client = Client(procs, node_env, stub.port, mode="delta")
    client.send(type_url=EDS, resource_names_subscribe=["backend", "other", "missing"])
    resp = client.wait_response(EDS)
    assert sorted(resp["names"]) == ["backend", "other"]
    assert resp["removed_resources"] == ["missing"]  # subscribed but does not exist
    client.send(type_url=EDS, response_nonce=resp["nonce"], resource_names_unsubscribe=["other", "missing"])
    stub.wait_event("ack", mode="delta", type_url=EDS)
    # A change to the unsubscribed resource is not sent...
    find(doc, EDS, "other")["endpoints"][0]["lb_endpoints"].pop()
    write_snapshot(path, doc)
    stub.wait_event("snapshot_reloaded")
    time.sleep(QUIET)
    assert len(client.responses(EDS)) == 1
    # ...a change to the subscribed one is, alone.
    find(doc, EDS, "backend")["endpoints"][0]["lb_endpoints"].pop()
    write_snapshot(path, doc)
    resp = client.wait_response(EDS, count=2)
    assert resp["names"] == ["backend"] and resp["system_version_info"] == "3"


# --- --check, signals ---

def test_check_accepts_a_good_file():
    for f in (BASIC, os.path.join(harness.ROOT, "deploy", "examples", "demo.yaml"),
              os.path.join(harness.ROOT, "deploy", "examples", "demo-v2.yaml")):
        r = subprocess.run([harness.binary("control-plane-stub"), "--check", f], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "ok:" in r.stdout
    assert "1 Listener, 1 RouteConfiguration, 1 Cluster, 1 ClusterLoadAssignment, 1 Secret" in \
        subprocess.run([harness.binary("control-plane-stub"), "--check", BASIC], capture_output=True,
                       text=True).stdout


@pytest.mark.parametrize("kind", ["unknown_field", "wrong_type", "bad_yaml", "unknown_type"])
def test_check_rejects_a_bad_file_naming_the_path(tmp_path, kind):
    path = str(tmp_path / "bad.yaml")
    write_snapshot(path, broken_text(kind))
    r = subprocess.run([harness.binary("control-plane-stub"), "--check", path], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith(path + ": ") and BROKEN[kind][1] in r.stderr, r.stderr


def test_startup_fails_on_a_bad_snapshot_or_a_taken_port(start_stub, tmp_path):
    stub_bin = harness.binary("control-plane-stub")
    bad = str(tmp_path / "bad.yaml")
    write_snapshot(bad, broken_text("wrong_type"))
    r = subprocess.run([stub_bin, "--port", "0", "--snapshot", bad], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "resources[1].virtual_hosts[0].domains" in r.stderr, r.stderr
    assert read_events(r.stdout)[0]["event"] == "snapshot_error"
    stub = start_stub(BASIC)
    r = subprocess.run([stub_bin, "--port", str(stub.port), "--snapshot", BASIC], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and "cannot listen" in r.stderr, r.stderr


def test_sigterm_exits_cleanly_with_open_streams(procs, start_stub, node_env):
    stub = start_stub(BASIC)
    sotw = Client(procs, node_env, stub.port)
    delta = Client(procs, node_env, stub.port, mode="delta")
    sotw.send(type_url=LDS)
    delta.send(type_url=CDS)
    sotw.wait_response(LDS)
    delta.wait_response(CDS)
    stub.proc.signal(signal.SIGTERM)
    assert stub.proc.wait(timeout=10) == 0
    assert stub.events("exit")
    assert len(stub.events("stream_closed")) == 2
