"""What a control plane built on Envoy's full API may send and xdsgate's
proto subset lacks, served by tests/integration/ads_server.js (official
protos): an unknown field is NACKed naming message and field number, or
accepted with a warning and a counter under --ignore-unknown-fields; an
HTTP filter type xdsgate does not have is NACKed unless is_optional. Valid
siblings in the same response are applied either way (gRFC A46)."""
import json
import os
import subprocess

import pytest

import harness
from xds_env import CDS, LDS, Gate, names, read_events, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def node_env():
    """The pinned Node packages and the official protos, in the plain build/ tree (test tools)."""
    build = os.path.join(harness.ROOT, "build")
    subprocess.run(["bash", os.path.join(HERE, "node_deps.sh"), build], check=True)
    official = os.path.join(build, "compat", "official")
    subprocess.run(["bash", os.path.join(harness.ROOT, "tests", "compat", "fetch_official.sh"), official],
                   check=True)
    return {"modules": os.path.join(build, "node", "node_modules"), "protos": official}


class AdsServer:
    def __init__(self, procs, node_env, tmp_path, resources):
        path = str(tmp_path / "resources.json")
        with open(path, "w") as f:
            json.dump({"resources": resources}, f)
        self.port = harness.free_port()
        self.proc = procs.start(["node", os.path.join(HERE, "ads_server.js"), "--port", str(self.port),
                                 "--protos", node_env["protos"], "--resources", path],
                                name="ads_server", env={"XG_NODE_MODULES": node_env["modules"]})
        self.proc.wait_output(r'"event":"listening"', stream="stdout", timeout=30)

    def events(self, kind, type_url):
        return [e for e in read_events(self.proc.stdout()) if e["event"] == kind and e["type_url"] == type_url]

    def wait(self, kind, type_url):
        return wait_until(lambda: self.events(kind, type_url), what="%s for %s; log:\n%s" % (
            kind, type_url, self.proc.stdout()[-3000:]))[0]


def cluster(name, **extra):
    c = {"@type": CDS, "name": name, "type": "STATIC", "connect_timeout": {"seconds": 1},
         "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
             "socket_address": {"address": "127.0.0.1", "port_value": 18080}}}}]}]}}
    c.update(extra)
    return c


def listener(name, port, filters):
    return {"@type": LDS, "name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                         "HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"name": "inline", "virtual_hosts": [
                    {"name": "all", "domains": ["*"], "routes": [
                        {"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}]},
                "http_filters": filters + [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}


def cors(optional):
    return {"name": "envoy.filters.http.cors", "is_optional": optional,
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}


# track_timeout_budgets (field 47 of Cluster) exists in Envoy's API, not in xdsgate's subset.
UNKNOWN = [cluster("budgets", track_timeout_budgets=True), cluster("plain")]


def test_unknown_field_is_nacked_naming_it(procs, node_env, tmp_path):
    server = AdsServer(procs, node_env, tmp_path, UNKNOWN)
    gate = Gate(procs, server.port)
    nack = server.wait("nack", CDS)
    assert nack["error_message"].startswith(
        'Cluster "budgets": unknown field number 47 in envoy.config.cluster.v3.Cluster'), nack
    wait_until(lambda: names(gate.dump(), CDS) == ["plain"], what="the valid sibling applied")
    x = gate.xds()["types"]["CDS"]
    assert x["last_nack"]["message"] == nack["error_message"] and x["unknown_field_warnings"] == 0
    gate.stop_clean()


def test_ignore_unknown_fields_accepts_with_a_warning_and_a_count(procs, node_env, tmp_path):
    server = AdsServer(procs, node_env, tmp_path, UNKNOWN)
    gate = Gate(procs, server.port, extra=["--ignore-unknown-fields"])
    server.wait("ack", CDS)
    assert server.events("nack", CDS) == []
    wait_until(lambda: names(gate.dump(), CDS) == ["budgets", "plain"], what="both clusters applied")
    x = gate.xds()
    assert x["ignore_unknown_fields"] is True and x["types"]["CDS"]["unknown_field_warnings"] == 1
    gate.proc.wait_output(r'Cluster "budgets": ignoring unknown field number 47 in envoy.config.cluster.v3.Cluster')
    gate.stop_clean()


def test_unknown_http_filter_is_nacked_unless_optional(procs, node_env, tmp_path):
    server = AdsServer(procs, node_env, tmp_path, [
        listener("required", harness.free_port(), [cors(False)]),
        listener("optional", harness.free_port(), [cors(True)]),
    ])
    gate = Gate(procs, server.port)
    nack = server.wait("nack", LDS)
    assert nack["error_message"].startswith(
        'Listener "required": filter_chains[0].filters[0].typed_config.http_filters[0]'), nack
    assert 'Listener "optional"' not in nack["error_message"]
    wait_until(lambda: names(gate.dump(), LDS) == ["optional"], what="the optional-filter listener applied")
    gate.stop_clean()
