"""Proves that xdsgate's proto/ subset and its proto3-JSON codec are
wire-compatible with Envoy's official protos.

The oracle is Google's protobuf runtime (Python, and protoc itself) loaded with
the OFFICIAL Envoy protos (fetched by fetch_official.sh, never committed). For
every corpus case (corpus/*.yaml: realistic resources as Envoy's docs and
go-control-plane write them):

  forward  official JSON parse -> bytes B1 -> xg-pbjson decode -> must equal the
           official JSON of B1 (also via protoc --encode of the text format,
           and with --proto-names)
  reverse  xg-pbjson encode of the JSON/YAML -> bytes B2 -> protoc --decode with
           the official protos (Any payloads expanded) must equal that of B1,
           and the official JSON of B2 must equal the official JSON of B1

Run with `make compat` (XG_BUILD names the build directory).
"""
import base64
import codecs
import glob
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

import pytest
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, text_format
from google.protobuf.message import DecodeError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("XG_BUILD", os.path.join(ROOT, "build"))
OFFICIAL = os.environ.get("XG_OFFICIAL", os.path.join(BUILD, "compat", "official"))
TOOL = os.path.join(BUILD, "xg-pbjson")
PROTO_DIR = os.path.join(ROOT, "proto")
TIMEOUT = 30

# Every message a user or a control plane sends to xdsgate (resources, the
# configs inside their typed_config, and the xDS/RLS transport messages): the
# corpus must hold at least two cases of each.
SENT_TYPES = [
    "envoy.config.listener.v3.Listener",
    "envoy.config.route.v3.RouteConfiguration",
    "envoy.config.cluster.v3.Cluster",
    "envoy.config.endpoint.v3.ClusterLoadAssignment",
    "envoy.extensions.transport_sockets.tls.v3.Secret",
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "envoy.extensions.filters.http.router.v3.Router",
    "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
    "envoy.extensions.filters.http.ratelimit.v3.RateLimit",
    "envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute",
    "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
    "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    "envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash",
    "envoy.extensions.load_balancing_policies.maglev.v3.Maglev",
    "envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest",
    "envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin",
    "envoy.extensions.load_balancing_policies.random.v3.Random",
    "envoy.service.discovery.v3.DiscoveryRequest",
    "envoy.service.discovery.v3.DiscoveryResponse",
    "envoy.service.discovery.v3.DeltaDiscoveryRequest",
    "envoy.service.discovery.v3.DeltaDiscoveryResponse",
    "envoy.service.ratelimit.v3.RateLimitRequest",
    "envoy.service.ratelimit.v3.RateLimitResponse",
    "xds.type.v3.TypedStruct",
    "google.rpc.Status",
]


def load_corpus():
    cases = []
    for path in sorted(glob.glob(os.path.join(HERE, "corpus", "*.yaml"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(path) as fh:
            for entry in yaml.safe_load(fh):
                assert set(entry) == {"type", "name", "value"}, "%s: bad entry %r" % (path, entry)
                cases.append(dict(entry, id="%s/%s" % (stem, entry["name"])))
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate corpus case names"
    return cases


CORPUS = load_corpus()


def proto_files(root):
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, f), root) for f in files if f.endswith(".proto")]
    return sorted(out)


class Official:
    """The official Envoy protos, compiled once: a descriptor set for protoc
    and a Python descriptor pool for the protobuf runtime."""

    def __init__(self, tmp):
        self.files = proto_files(PROTO_DIR)
        self.set_path = os.path.join(tmp, "official.pb")
        includes = [os.path.join(OFFICIAL, d) for d in ("envoy-api", "xds", "googleapis", "protoc-gen-validate")]
        cmd = ["protoc", "--include_imports", "--descriptor_set_out=" + self.set_path]
        subprocess.run(cmd + ["-I" + i for i in includes] + self.files, check=True, timeout=120)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(self.set_path, "rb") as fh:
            fds.ParseFromString(fh.read())
        self.pool = descriptor_pool.DescriptorPool()
        for f in fds.file:
            self.pool.Add(f)
        self.factory = message_factory.MessageFactory(self.pool)

    def new(self, type_name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(type_name))()

    def has_type(self, type_name):
        try:
            self.pool.FindMessageTypeByName(type_name)
            return True
        except KeyError:
            return False

    def parse(self, type_name, value):
        msg = self.new(type_name)
        json_format.ParseDict(value, msg, descriptor_pool=self.pool)
        return msg

    def to_json(self, msg, proto_names=False):
        return json_format.MessageToDict(msg, descriptor_pool=self.pool, preserving_proto_field_name=proto_names)

    def protoc(self, mode, type_name, data):
        cmd = ["protoc", "--descriptor_set_in=" + self.set_path, "--%s=%s" % (mode, type_name)] + self.files
        return subprocess.run(cmd, input=data, capture_output=True, timeout=TIMEOUT)

    def decode_text(self, type_name, data):
        """protoc --decode with the official protos, Any payloads expanded
        recursively (protoc prints them as opaque bytes)."""
        r = self.protoc("decode", type_name, data)
        assert r.returncode == 0, "protoc --decode=%s failed: %s" % (type_name, r.stderr.decode())
        return self._expand_any(r.stdout.decode())

    _ANY = re.compile(r'^( *)type_url: "([^"\n]*)"\n\1value: "((?:[^"\\\n]|\\.)*)"\n', re.M)

    def _expand_any(self, text):
        def repl(m):
            indent, url, escaped = m.group(1), m.group(2), m.group(3)
            name = url.rsplit("/", 1)[-1]
            if not self.has_type(name):
                return m.group(0)
            payload = codecs.escape_decode(escaped.encode("latin-1"))[0]
            inner = self.decode_text(name, payload)
            body = "".join(indent + "  " + line + "\n" for line in inner.splitlines())
            return '%stype_url: "%s"\n%svalue <expanded> {\n%s%s}\n' % (indent, url, indent, body, indent)

        return self._ANY.sub(repl, text)


@pytest.fixture(scope="session")
def official():
    if not os.path.isdir(os.path.join(OFFICIAL, "envoy-api")):
        pytest.fail("official protos missing in %s: run tests/compat/fetch_official.sh" % OFFICIAL)
    with tempfile.TemporaryDirectory() as tmp:
        yield Official(tmp)


def xg(args, data):
    """Runs xg-pbjson; returns (exit code, stdout bytes, stderr text)."""
    if not os.access(TOOL, os.X_OK):
        pytest.fail("%s missing: make %s" % (TOOL, os.path.relpath(TOOL, ROOT)))
    r = subprocess.run([TOOL] + args, input=data, capture_output=True, timeout=TIMEOUT)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def xg_decode(type_name, data, proto_names=False):
    rc, out, err = xg(["decode", type_name] + (["--proto-names"] if proto_names else []), data)
    assert rc == 0, "xg-pbjson decode %s failed (exit %d): %s" % (type_name, rc, err)
    return json.loads(out)


def xg_encode(type_name, text):
    rc, out, err = xg(["encode", type_name], text.encode())
    assert rc == 0, "xg-pbjson encode %s failed (exit %d): %s" % (type_name, rc, err)
    return out


def same_number(a, b):
    if a == b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    fa, fb = float(a), float(b)
    if fa == fb:
        return True
    # A 32-bit float field printed at double precision on one side.
    return struct.pack("<f", fa) == struct.pack("<f", fb)


def json_diff(a, b, path="", out=None):
    """Differences between two JSON values, as 'path: ours != official' lines."""
    out = [] if out is None else out
    num = (int, float)
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = "%s.%s" % (path, k) if path else k
            if k not in a:
                out.append("%s: missing in ours (official: %s)" % (p, json.dumps(b[k])[:200]))
            elif k not in b:
                out.append("%s: extra in ours: %s" % (p, json.dumps(a[k])[:200]))
            else:
                json_diff(a[k], b[k], p, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append("%s: %d items in ours, %d in official" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            json_diff(x, y, "%s[%d]" % (path, i), out)
    elif isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if not same_number(a, b):
            out.append("%s: %r != %r" % (path, a, b))
    elif a != b or type(a) is not type(b):
        out.append("%s: %s != %s" % (path, json.dumps(a)[:200], json.dumps(b)[:200]))
    return out


def assert_same_json(ours, theirs, what):
    diff = json_diff(ours, theirs)
    assert not diff, "%s differs from the official JSON:\n  %s" % (what, "\n  ".join(diff[:40]))


# ---- structure ----


def test_descriptors():
    """Every message and enum in proto/ matches Envoy's field by field."""
    r = subprocess.run([sys.executable, os.path.join(HERE, "check_descriptors.py"), PROTO_DIR, OFFICIAL],
                       capture_output=True, text=True, timeout=120)
    report = r.stdout + r.stderr
    assert r.returncode == 0 and ", 0 mismatches" in r.stdout, report
    assert re.search(r"descriptors: [1-9]\d* types checked", r.stdout), report


def test_registry_has_every_message(official):
    """Any's @type resolves every message type defined in proto/."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.pb")
        files = proto_files(PROTO_DIR)
        subprocess.run(["protoc", "--descriptor_set_out=" + out, "-I" + PROTO_DIR, "-I/usr/include"] + files,
                       check=True, timeout=120)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as fh:
            fds.ParseFromString(fh.read())

    want = set()

    def walk(prefix, m):
        name = prefix + m.name
        if not m.options.map_entry:
            want.add(name)
        for n in m.nested_type:
            walk(name + ".", n)

    for f in fds.file:
        for m in f.message_type:
            walk(f.package + ".", m)
    rc, out, err = xg(["types"], b"")
    assert rc == 0, err
    have = set(out.decode().split())
    missing = sorted(want - have)
    assert not missing, "not in xg-pbjson types: %s" % missing


def test_corpus_covers_sent_types():
    counts = {t: 0 for t in SENT_TYPES}
    for c in CORPUS:
        if c["type"] in counts:
            counts[c["type"]] += 1
    thin = {t: n for t, n in counts.items() if n < 2}
    assert not thin, "corpus needs at least two cases of: %s" % thin


# ---- the corpus, both directions ----


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_forward(official, case):
    """Official encoder -> xdsgate decoder: same JSON as the official decoder."""
    type_name = case["type"]
    try:
        msg = official.parse(type_name, case["value"])
    except json_format.ParseError as e:
        pytest.fail("corpus case rejected by the official protos (fix the corpus): %s" % e)
    b1 = msg.SerializeToString()
    assert_same_json(xg_decode(type_name, b1), official.to_json(msg), "xg-pbjson decode")
    assert_same_json(xg_decode(type_name, b1, proto_names=True), official.to_json(msg, proto_names=True),
                     "xg-pbjson decode --proto-names")

    # The same message encoded by protoc itself, from the text format.
    text = text_format.MessageToString(msg, descriptor_pool=official.pool)
    r = official.protoc("encode", type_name, text.encode())
    assert r.returncode == 0, "protoc --encode: %s" % r.stderr.decode()
    assert_same_json(xg_decode(type_name, r.stdout), official.to_json(msg), "xg-pbjson decode of protoc --encode")


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_reverse(official, case):
    """xdsgate encoder -> official decoders: same message as the official encoder's."""
    type_name = case["type"]
    msg = official.parse(type_name, case["value"])
    b1 = msg.SerializeToString()

    b2 = xg_encode(type_name, json.dumps(case["value"]))
    b3 = xg_encode(type_name, yaml.safe_dump(case["value"], sort_keys=False))
    assert b3 == b2, "the same value as YAML and as JSON encoded differently"

    assert official.decode_text(type_name, b2) == official.decode_text(type_name, b1)
    back = official.new(type_name)
    back.ParseFromString(b2)
    assert_same_json(official.to_json(back), official.to_json(msg), "official JSON of xg-pbjson's bytes")


# ---- bad input: binary ----


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_len(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def pb_varint(num, v):
    return varint(num << 3) + varint(v)


LISTENER = "envoy.config.listener.v3.Listener"


def socket_address(extra=b""):
    return pb_len(2, b"10.0.0.1") + pb_varint(3, 8080) + extra


def listener_bytes(sock):
    return pb_len(1, b"l0") + pb_len(2, pb_len(1, sock))


def test_crafted_bytes_are_valid(official):
    """The negative cases below differ from this valid message by one defect."""
    msg = official.new(LISTENER)
    msg.ParseFromString(listener_bytes(socket_address()))
    assert msg.address.socket_address.port_value == 8080
    assert xg_decode(LISTENER, listener_bytes(socket_address()))["address"]["socketAddress"]["portValue"] == 8080


def test_decode_unknown_nested_field_names_number_and_path():
    rc, _, err = xg(["decode", LISTENER], listener_bytes(socket_address(pb_varint(999, 7))))
    assert rc == 1, err
    assert "999" in err, err
    assert re.search(r"address\.socket(_a|A)ddress", err), err


def test_decode_unknown_field_inside_any_names_path():
    inner = pb_len(1, b"l0") + pb_varint(999, 1)
    any_ = pb_len(1, b"type.googleapis.com/" + LISTENER.encode()) + pb_len(2, inner)
    resp = pb_len(4, b"type.googleapis.com/" + LISTENER.encode()) + pb_len(2, any_)
    rc, _, err = xg(["decode", "envoy.service.discovery.v3.DiscoveryResponse"], resp)
    assert rc == 1, err
    assert "999" in err and "resources[0]" in err, err


def test_decode_wrong_wire_type():
    # Listener.name (1) is a string; here it arrives as a varint.
    rc, _, err = xg(["decode", LISTENER], pb_varint(1, 5))
    assert rc == 1 and err.strip(), err
    # SocketAddress.port_value (3) is a varint; here it is length-delimited.
    rc, _, err = xg(["decode", LISTENER], listener_bytes(pb_len(2, b"10.0.0.1") + pb_len(3, b"\x01")))
    assert rc == 1 and err.strip(), err


def test_decode_truncated():
    data = listener_bytes(socket_address())
    rc, _, err = xg(["decode", LISTENER], data[:-3])
    assert rc == 1 and "truncated" in err, err
    nested = pb_len(2, pb_len(1, pb_len(2, b"10.0.0.1")[:-2]))  # outer lengths fine, inner short
    rc, _, err = xg(["decode", LISTENER], nested)
    assert rc == 1 and err.strip(), err


def test_decode_every_prefix_agrees_with_official(official):
    """Each prefix of a real message: xdsgate accepts it exactly when the
    official runtime does, and never crashes."""
    case = next(c for c in CORPUS if c["id"] == "clusters/static-round-robin")
    full = official.parse(case["type"], case["value"]).SerializeToString()
    for n in range(len(full)):
        try:
            official.new(case["type"]).ParseFromString(full[:n])
            ok = True
        except DecodeError:
            ok = False
        rc, _, err = xg(["decode", case["type"]], full[:n])
        assert rc in (0, 1), "prefix %d: exit %d %s" % (n, rc, err)
        assert (rc == 0) == ok, "prefix %d of %d: xg exit %d, official %s: %s" % (
            n, len(full), rc, "accepts" if ok else "rejects", err)


# ---- bad input: JSON/YAML ----

HCM_URL = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def listener_json(vhost1=None, filter_type=HCM_URL):
    vh1 = {"name": "b", "domains": ["b.example.com"]}
    vh1.update(vhost1 or {})
    return {
        "name": "l0",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": 80}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": filter_type,
                "stat_prefix": "http",
                "route_config": {"virtual_hosts": [{"name": "a", "domains": ["*"]}, vh1]},
            },
        }]}],
    }


VH1 = "filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[1]"

BAD_JSON = [
    ("unknown-any-type", listener_json(filter_type="type.googleapis.com/acme.NoSuchFilter"),
     ["filter_chains[0].filters[0].typed_config", "acme.NoSuchFilter"]),
    ("unknown-field", listener_json({"domainz": ["x"]}), [VH1, "domainz"]),
    ("wrong-type-string-for-array", listener_json({"domains": "b.example.com"}), [VH1 + ".domains"]),
    ("wrong-type-number-for-string", listener_json({"name": 7}), [VH1 + ".name"]),
    ("bad-enum", listener_json({"require_tls": "SOMETIMES"}), [VH1 + ".require_tls", "SOMETIMES"]),
    ("bad-duration", {"name": "l", "listener_filters_timeout": "5 seconds"}, ["listener_filters_timeout"]),
    ("uint32-out-of-range", {"name": "l", "address": {"socket_address": {"port_value": 4294967296}}},
     ["address.socket_address.port_value"]),
    ("negative-uint32", {"name": "l", "per_connection_buffer_limit_bytes": -1},
     ["per_connection_buffer_limit_bytes"]),
    ("fraction-for-integer", {"name": "l", "address": {"socket_address": {"port_value": 80.5}}},
     ["address.socket_address.port_value"]),
    ("two-oneof-members", {"name": "l", "address": {"socket_address": {"port_value": 80, "named_port": "http"}}},
     ["address.socket_address"]),
    ("bad-base64", {"name": "l", "socket_options": [{"buf_value": "not base64!"}]},
     ["socket_options[0].buf_value"]),
]


@pytest.mark.parametrize("name,value,needles", BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_encode_rejects_with_path(official, name, value, needles):
    with pytest.raises(json_format.ParseError):  # the official runtime rejects it too
        official.parse(LISTENER, value)
    rc, out, err = xg(["encode", LISTENER], json.dumps(value).encode())
    assert rc == 1 and out == b"", err
    for n in needles:
        # Paths may use proto names or JSON names; accept either spelling.
        camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), n)
        assert n in err or camel in err, "%r not in error: %s" % (n, err)


def test_encode_rejects_malformed_yaml():
    rc, out, err = xg(["encode", LISTENER], b"name: l\naddress: [unclosed\n")
    assert rc == 1 and out == b"" and "line" in err, err


def test_encode_path_under_resources_prefix():
    """The error path reaches into a DiscoveryResponse's Any resources."""
    value = {"type_url": "t", "resources": [{"@type": "type.googleapis.com/" + LISTENER, "name": "ok"},
                                            dict(listener_json({"domains": "x"}),
                                                 **{"@type": "type.googleapis.com/" + LISTENER})]}
    rc, _, err = xg(["encode", "envoy.service.discovery.v3.DiscoveryResponse"], json.dumps(value).encode())
    assert rc == 1 and "resources[1]." + VH1 + ".domains" in err, err


def test_bytes_roundtrip_base64():
    """bytes fields use standard base64 both ways (sanity for the corpus)."""
    raw = bytes(range(256))
    value = {"cluster_name": "c", "endpoints": []}
    b = xg_encode("envoy.config.endpoint.v3.ClusterLoadAssignment", json.dumps(value))
    assert xg_decode("envoy.config.endpoint.v3.ClusterLoadAssignment", b) == {"clusterName": "c"}
    sec = {"name": "s", "generic_secret": {"secret": {"inline_bytes": base64.b64encode(raw).decode()}}}
    t = "envoy.extensions.transport_sockets.tls.v3.Secret"
    out = xg_decode(t, xg_encode(t, json.dumps(sec)))
    assert base64.b64decode(out["genericSecret"]["secret"]["inlineBytes"]) == raw
