"""xdsgate's xDS client against the real control-plane stub, in both ADS
modes: initial sync and ACK of all five types, /config_dump and /xds
contents, updates, NACKs that name the field while the old config and valid
siblings stay, subscriptions following the config, warming with the initial
fetch timeout and /ready, a control plane killed and restarted (config kept,
reconnect within the backoff, resync without churn), POST /quitquitquit."""
import copy
import re
import time

import pytest
import yaml

import harness
from xds_env import (CDS, EDS, LDS, RDS, SDS, ALL_TYPES, ABBREV, Gate, Stub, active, make_cert, names, render,
                     section, wait_until, write_atomic)

MODES = ["sotw", "delta"]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("cert")))


class World:
    """A snapshot file (as a document the test edits), the stub serving it, and xdsgate."""

    def __init__(self, procs, tmp_path, cert, mode, edit=None, extra=()):
        self.path = str(tmp_path / "snapshot.yaml")
        self.mode = mode
        self.port0 = harness.free_port()
        self.doc = yaml.safe_load(render("xds_full.yaml", {"PORT0": self.port0, "CERT": cert[0], "KEY": cert[1]}))
        if edit is not None:
            edit(self.doc)
        self.save()
        self.stub = Stub(procs, self.path)
        self.gate = Gate(procs, self.stub.port, mode, extra)

    def save(self):
        write_atomic(self.path, yaml.safe_dump(self.doc, sort_keys=False))

    def find(self, type_url, name):
        for r in self.doc["resources"]:
            if r["@type"] == type_url and r.get("name", r.get("cluster_name")) == name:
                return r
        raise KeyError(name)

    def drop(self, type_url, name):
        self.doc["resources"].remove(self.find(type_url, name))

    def acks(self, type_url):
        return self.stub.events("ack", type_url=type_url)


def without(type_url, name):
    def edit(doc):
        doc["resources"] = [r for r in doc["resources"]
                            if not (r["@type"] == type_url and r.get("name", r.get("cluster_name")) == name)]
    return edit


@pytest.mark.parametrize("mode", MODES)
def test_initial_sync_acks_all_five_types_and_dumps_them(procs, tmp_path, cert, mode):
    w = World(procs, tmp_path, cert, mode)
    w.gate.wait_ready()
    for t in ALL_TYPES:
        w.stub.wait_event("ack", type_url=t)
    assert w.stub.events("nack") == []
    dump = w.gate.dump()
    assert names(dump, LDS) == ["http"]
    assert names(dump, RDS) == ["main"]
    assert names(dump, CDS) == ["tls_up", "web"]
    assert names(dump, EDS) == ["web"]
    assert names(dump, SDS) == ["client_cert"]
    assert [c["@type"].rsplit(".", 1)[1] for c in dump["configs"]] == [
        "ClustersConfigDump", "EndpointsConfigDump", "ListenersConfigDump", "RoutesConfigDump", "SecretsConfigDump"]
    listener = active(dump)[LDS]["http"][1]
    assert listener["@type"] == LDS
    assert listener["address"]["socket_address"]["port_value"] == w.port0
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["rds"]["route_config_name"] == "main"  # snake_case, as Envoy's admin writes
    secret = active(dump)[SDS]["client_cert"][1]
    assert secret["tls_certificate"]["private_key"] == {"inline_string": "[redacted]"}
    assert secret["tls_certificate"]["certificate_chain"]["inline_string"] == cert[0]
    assert "PRIVATE KEY" not in w.gate.get("/config_dump")[1]
    for t in ALL_TYPES:
        assert active(dump)[t], t
        for version, _, updated in active(dump)[t].values():
            assert version and updated.endswith("Z")
    x = w.gate.xds()
    assert x["mode"] == mode and x["ready"] is True and x["connection"]["state"] == "connected"
    assert x["generation"] >= 1
    assert x["types"]["LDS"]["subscription"] == "wildcard"
    assert x["types"]["RDS"]["subscription"] == ["main"]
    assert x["types"]["EDS"]["subscription"] == ["web"]
    assert x["types"]["SDS"]["subscription"] == ["client_cert"]
    for t in ALL_TYPES:
        s = x["types"][ABBREV[t]]
        assert s["acks"] >= 1 and s["nacks"] == 0 and s["last_nack"] is None and s["missing"] == [], s
    w.gate.stop_clean()


@pytest.mark.parametrize("mode", MODES)
def test_an_update_is_applied_and_acked_and_nothing_else_churns(procs, tmp_path, cert, mode):
    w = World(procs, tmp_path, cert, mode)
    w.gate.wait_ready()
    for t in ALL_TYPES:
        w.stub.wait_event("ack", type_url=t)
    before = active(w.gate.dump())
    gen = w.gate.xds()["generation"]
    n_acks = len(w.acks(RDS))
    w.find(RDS, "main")["virtual_hosts"][0]["routes"].insert(
        0, {"match": {"prefix": "/api"}, "route": {"cluster": "tls_up"}})
    w.save()
    w.stub.wait_event("ack", type_url=RDS, count=n_acks + 1)
    after = active(w.gate.dump())
    routes = after[RDS]["main"][1]["virtual_hosts"][0]["routes"]
    assert [r["match"]["prefix"] for r in routes] == ["/api", "/"]
    assert w.gate.xds()["generation"] == gen + 1
    # Only the route configuration was rebuilt: every other resource is the very same object.
    for t in (LDS, CDS, EDS, SDS):
        assert after[t] == before[t], t
    assert after[RDS]["main"][2] >= before[RDS]["main"][2]
    assert w.stub.events("nack") == []
    w.gate.stop_clean()


@pytest.mark.parametrize("mode", MODES)
def test_invalid_resource_is_nacked_naming_the_field_old_config_kept_siblings_applied(procs, tmp_path, cert, mode):
    w = World(procs, tmp_path, cert, mode)
    w.gate.wait_ready()
    w.stub.wait_event("ack", type_url=LDS)
    before = active(w.gate.dump())
    http = w.find(LDS, "http")
    clash = copy.deepcopy(http)
    clash["name"] = "clash"  # same address as "http": rejected, naming both
    good = copy.deepcopy(http)
    good["name"] = "other"
    good["address"]["socket_address"]["port_value"] = harness.free_port()
    w.doc["resources"] += [clash, good]
    w.save()
    nack = w.stub.wait_event("nack", type_url=LDS)[0]
    want = 'Listener "clash": address: 127.0.0.1:%d is already used by listener "http"' % w.port0
    assert nack["error_message"] == want
    wait_until(lambda: "other" in names(w.gate.dump(), LDS), what="the valid sibling applied")
    after = active(w.gate.dump())
    assert "clash" not in after[LDS]
    assert after[LDS]["http"] == before[LDS]["http"]
    x = w.gate.xds()["types"]["LDS"]
    assert x["last_nack"]["message"] == want
    if mode == "sotw":
        assert x["acked_version"] == nack["version"]  # a NACK keeps the previous version
    # A field the translator rejects: an invalid regex in a route configuration.
    n_nacks = len(w.stub.events("nack", type_url=RDS))
    w.find(RDS, "main")["virtual_hosts"][0]["routes"][0]["match"] = {"safe_regex": {"regex": "(unclosed"}}
    w.save()
    nack = w.stub.wait_event("nack", type_url=RDS, count=n_nacks + 1)[-1]
    assert nack["error_message"].startswith(
        'RouteConfiguration "main": virtual_hosts[0].routes[0].match.safe_regex'), nack
    assert active(w.gate.dump())[RDS]["main"] == before[RDS]["main"]
    w.gate.stop_clean()


@pytest.mark.parametrize("mode", MODES)
def test_subscriptions_follow_the_config(procs, tmp_path, cert, mode):
    w = World(procs, tmp_path, cert, mode)
    w.gate.wait_ready()
    for t in ALL_TYPES:
        w.stub.wait_event("ack", type_url=t)
    # The listener moves to a new route configuration; the upstream TLS cluster (and with it the secret) goes.
    main2 = copy.deepcopy(w.find(RDS, "main"))
    main2["name"] = "main2"
    w.doc["resources"].append(main2)
    hcm = w.find(LDS, "http")["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["rds"]["route_config_name"] = "main2"
    w.drop(CDS, "tls_up")
    # A new EDS cluster, named apart from its service: the assignment "api-v1" is asked for.
    api = copy.deepcopy(w.find(CDS, "web"))
    api["name"] = "api"
    api["eds_cluster_config"]["service_name"] = "api-v1"
    api_cla = copy.deepcopy(w.find(EDS, "web"))
    api_cla["cluster_name"] = "api-v1"
    w.doc["resources"] += [api, api_cla]
    w.save()
    wait_until(lambda: names(w.gate.dump(), RDS) == ["main2"], what="RDS main -> main2")
    wait_until(lambda: names(w.gate.dump(), SDS) == [], what="the secret dropped")
    wait_until(lambda: names(w.gate.dump(), EDS) == ["api-v1", "web"], what="EDS api-v1 added")
    x = w.gate.xds()["types"]
    assert x["RDS"]["subscription"] == ["main2"]
    assert x["SDS"]["subscription"] == []
    assert x["EDS"]["subscription"] == ["api-v1", "web"]
    reqs = w.stub.events("request", type_url=RDS)
    if mode == "sotw":
        assert reqs[-1]["resource_names"] == ["main2"]
        assert w.stub.events("request", type_url=SDS)[-1]["resource_names"] == []
        assert sorted(w.stub.events("request", type_url=EDS)[-1]["resource_names"]) == ["api-v1", "web"]
    else:
        assert any(r.get("unsubscribe") == ["main"] for r in reqs), reqs
        assert any(r.get("subscribe") == ["main2"] for r in reqs), reqs
        assert any(r.get("unsubscribe") == ["client_cert"] for r in w.stub.events("request", type_url=SDS))
        assert any(r.get("subscribe") == ["api-v1"] for r in w.stub.events("request", type_url=EDS))
    assert names(w.gate.dump(), CDS) == ["api", "web"]
    # The cluster goes again: its assignment is unsubscribed and dropped.
    w.drop(CDS, "api")
    w.save()
    wait_until(lambda: names(w.gate.dump(), EDS) == ["web"], what="EDS api-v1 dropped")
    assert w.gate.xds()["types"]["EDS"]["subscription"] == ["web"]
    assert w.stub.events("nack") == []
    w.gate.stop_clean()


@pytest.mark.parametrize("mode", MODES)
def test_warming_waits_for_endpoints_and_routes_until_the_initial_fetch_timeout(procs, tmp_path, cert, mode):
    def edit(doc):
        without(EDS, "web")(doc)
        without(RDS, "main")(doc)
    t0 = time.monotonic()
    w = World(procs, tmp_path, cert, mode, edit=edit, extra=["--initial-fetch-timeout", "1s"])
    if mode == "sotw":
        # Nothing says the assignment and the route configuration do not exist: both wait for the timeout.
        w.stub.wait_event("ack", type_url=CDS)
        w.stub.wait_event("ack", type_url=LDS)
        ready, x, dump = w.gate.get("/ready")[0], w.gate.xds(), w.gate.dump()
        # xdsgate's timer started after t0, so all three were read before it expired if this holds
        # (on a loaded machine it may not: then there is nothing to check here).
        if time.monotonic() - t0 < 1.0:
            assert ready == 503
            assert x["types"]["CDS"]["warming"] == ["web"] and x["types"]["LDS"]["warming"] == ["http"], x
            assert section(dump, "ClustersConfigDump")["dynamic_warming_clusters"][0]["cluster"]["name"] == "web"
            assert "warming_state" in section(dump, "ListenersConfigDump")["dynamic_listeners"][0]
    w.gate.wait_ready(timeout=10)
    if mode == "sotw":
        assert time.monotonic() - t0 >= 1.0
        w.gate.proc.wait_output(r'initial fetch timeout expired waiting for ClusterLoadAssignment "web"')
    dump = w.gate.dump()
    assert names(dump, CDS) == ["tls_up", "web"] and names(dump, LDS) == ["http"]
    assert names(dump, EDS) == [] and names(dump, RDS) == []
    x = w.gate.xds()["types"]
    assert x["EDS"]["missing"] == ["web"] and x["RDS"]["missing"] == ["main"]
    assert x["CDS"]["warming"] == [] and x["LDS"]["warming"] == []
    # The late arrivals still apply.
    w.doc = yaml.safe_load(render("xds_full.yaml", {"PORT0": w.port0, "CERT": cert[0], "KEY": cert[1]}))
    w.save()
    wait_until(lambda: names(w.gate.dump(), EDS) == ["web"] and names(w.gate.dump(), RDS) == ["main"],
               what="late EDS and RDS applied")
    assert w.gate.ready()
    w.gate.stop_clean()


@pytest.mark.parametrize("mode", MODES)
def test_control_plane_restart_keeps_config_and_resyncs_without_churn(procs, tmp_path, cert, mode):
    w = World(procs, tmp_path, cert, mode)
    w.gate.wait_ready()
    for t in ALL_TYPES:
        w.stub.wait_event("ack", type_url=t)
    before = w.gate.dump()
    gen = w.gate.xds()["generation"]
    w.stub.kill()
    wait_until(lambda: w.gate.xds()["connection"]["state"] != "connected", what="the stream noticed the loss")
    time.sleep(1.0)
    assert w.gate.ready()  # the last good config keeps serving
    assert w.gate.dump() == before
    t0 = time.monotonic()
    w.stub.start()
    wait_until(lambda: w.gate.xds()["connection"]["state"] == "connected", timeout=35, what="reconnected")
    # Within the backoff: no later than the longest retry delay xdsgate announced while the stub was down.
    delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+) s", w.gate.proc.stderr())]
    assert delays and max(delays) <= 30.0, delays
    assert time.monotonic() - t0 <= max(delays) + 1.0, (time.monotonic() - t0, delays)
    if mode == "sotw":
        for t in ALL_TYPES:  # everything is sent again, and found identical
            w.stub.wait_event("ack", type_url=t)
    else:
        for t in (LDS, CDS):  # wildcard types always get a first response, even an empty one
            w.stub.wait_event("ack", type_url=t)
        for t in (RDS, EDS, SDS):  # the versions held are announced, so nothing needs sending
            req = w.stub.wait_event("request", type_url=t)[0]
            held = {n: v[0] for n, v in active(before)[t].items()}
            assert req["initial_resource_versions"] == held, req
    time.sleep(0.3)
    assert w.stub.events("nack") == []
    assert w.gate.xds()["generation"] == gen  # identical resources: no new snapshot
    assert w.gate.dump() == before            # same objects, same last_updated
    w.gate.stop_clean()


def test_quitquitquit_exits_cleanly(procs, tmp_path, cert):
    w = World(procs, tmp_path, cert, "sotw")
    w.gate.wait_ready()
    assert w.gate.get("/quitquitquit")[0] == 405
    assert w.gate.get("/quitquitquit", method="POST") == (200, "OK\n")
    assert w.gate.proc.wait(timeout=10) == 0
    err = w.gate.proc.stderr()
    assert "POST /quitquitquit: shutting down" in err and "Sanitizer" not in err, err[-3000:]


def test_xds_flags_in_help_and_their_errors(procs):
    def run(*args):
        p = procs.start([harness.binary("xdsgate"), *args])
        return p.wait(timeout=10), p.stdout(), p.stderr()
    rc, out, _ = run("--help")
    assert rc == 0
    for flag in ("--initial-fetch-timeout", "--xds-ca", "--xds-cert", "--xds-key", "--xds-server-name"):
        assert flag in out, flag
    rc, _, err = run("--initial-fetch-timeout", "soon")
    assert rc == 2 and "--initial-fetch-timeout 'soon'" in err, err
    _, version, _ = run("--version")
    rc, _, err = run("--xds-ca", "/nonexistent/ca.pem")
    if "BoringSSL" in version:
        assert rc == 2 and "make TLS=openssl" in err, err
