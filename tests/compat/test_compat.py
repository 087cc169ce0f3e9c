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
import copy
import glob
import json
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
    "envoy.extensions.filters.http.buffer.v3.Buffer",
    "envoy.extensions.filters.http.buffer.v3.BufferPerRoute",
    "envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit",
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
    "envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
    "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
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
        # ParseDict removes an Any's "@type" while it works and does not put
        # it back when it fails: give it a copy.
        json_format.ParseDict(copy.deepcopy(value), msg, descriptor_pool=self.pool)
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


class Yaml12Dumper(yaml.SafeDumper):
    """PyYAML writes YAML 1.1; xdsgate (like Envoy's yaml-cpp) reads plain
    scalars by the YAML 1.2 core schema. Teach the dumper the 1.2 patterns so
    that it quotes every string a 1.2 reader would take for a number, a bool
    or null (e.g. 50494e47, which is 5.0494e47 in YAML 1.2)."""


for _tag, _re, _first in [
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+0123456789.")),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL)$", list("~nN")),
]:
    Yaml12Dumper.add_implicit_resolver(_tag, re.compile(_re), _first)


def to_yaml(value):
    return yaml.dump(value, Dumper=Yaml12Dumper, sort_keys=False, allow_unicode=True)


def xg(args, data):
    """Runs xg-pbjson; returns (exit code, stdout bytes, stderr text)."""
    if not os.access(TOOL, os.X_OK):
        pytest.fail("%s missing: make %s" % (TOOL, os.path.relpath(TOOL, ROOT)))
    r = subprocess.run([TOOL] + args, input=data, capture_output=True, timeout=TIMEOUT)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def unique_keys(pairs):
    keys = [k for k, _ in pairs]
    dups = sorted(set(k for k in keys if keys.count(k) > 1))
    assert not dups, "xg-pbjson wrote duplicate JSON keys %s" % dups
    return dict(pairs)


def xg_decode(type_name, data, proto_names=False):
    rc, out, err = xg(["decode", type_name] + (["--proto-names"] if proto_names else []), data)
    assert rc == 0, "xg-pbjson decode %s failed (exit %d): %s" % (type_name, rc, err)
    return json.loads(out, object_pairs_hook=unique_keys)


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


@pytest.fixture(scope="session")
def ours():
    """proto/ compiled by protoc: {message full name: [field names]} (map
    entries left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.pb")
        subprocess.run(["protoc", "--descriptor_set_out=" + out, "-I" + PROTO_DIR, "-I/usr/include"]
                       + proto_files(PROTO_DIR), check=True, timeout=120)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as fh:
            fds.ParseFromString(fh.read())
    messages = {}

    def walk(prefix, m):
        name = prefix + m.name
        if not m.options.map_entry:
            messages[name] = [f.name for f in m.field]
        for n in m.nested_type:
            walk(name + ".", n)

    for f in fds.file:
        for m in f.message_type:
            walk(f.package + ".", m)
    return messages


def test_registry_has_every_message(ours):
    """Any's @type resolves every message type defined in proto/."""
    rc, out, err = xg(["types"], b"")
    assert rc == 0, err
    missing = sorted(set(ours) - set(out.decode().split()))
    assert not missing, "not in xg-pbjson types: %s" % missing


def corpus_coverage(official):
    """The set of message types and of 'Message.field' names that the corpus
    sets to a non-default value somewhere, Any payloads included."""
    messages, fields = set(), set()

    def walk(m):
        d = m.DESCRIPTOR
        messages.add(d.full_name)
        if d.full_name == "google.protobuf.Any":
            name = m.type_url.rsplit("/", 1)[-1]
            if official.has_type(name):
                inner = official.new(name)
                inner.ParseFromString(m.value)
                walk(inner)
            return
        if d.full_name.startswith("google.protobuf."):
            return
        for f, v in m.ListFields():
            fields.add(d.full_name + "." + f.name)
            if f.message_type is None:
                continue
            if f.message_type.GetOptions().map_entry:
                if f.message_type.fields_by_name["value"].message_type is not None:
                    for x in v.values():
                        walk(x)
            elif f.label == f.LABEL_REPEATED:
                for x in v:
                    walk(x)
            else:
                walk(v)

    for c in CORPUS:
        walk(official.parse(c["type"], c["value"]))
    return messages, fields


def check_descriptors_newer():
    sys.path.insert(0, HERE)
    try:
        import check_descriptors
    finally:
        sys.path.pop(0)
    return check_descriptors.newer_than_pin()


def test_corpus_covers_every_field(official, ours):
    """Every message and every field of proto/ crosses the wire, set to a
    non-default value, in at least one corpus case. When proto/ grows, add
    cases (corpus/components.yaml takes any message type)."""
    seen_msgs, seen_fields = corpus_coverage(official)
    newer = check_descriptors_newer()  # Envoy's descriptors cannot carry these (newer_than_pin.txt)
    no_msgs = sorted(m for m in ours if m not in seen_msgs and m not in newer)
    no_fields = sorted("%s.%s" % (m, f) for m, fs in ours.items() for f in fs
                       if "%s.%s" % (m, f) not in seen_fields and m not in newer and "%s.%s" % (m, f) not in newer)
    assert not no_msgs and not no_fields, "not in the corpus:\n  messages: %s\n  fields: %s" % (
        "\n    ".join([""] + no_msgs), "\n    ".join([""] + no_fields))


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
    b3 = xg_encode(type_name, to_yaml(case["value"]))
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


def pb_fixed64(num, raw):
    return varint(num << 3 | 1) + raw


def fcm(b):  # Listener.filter_chains[0].filter_chain_match
    return pb_len(3, pb_len(1, b))


def sock(b):  # Listener.address.socket_address
    return pb_len(2, pb_len(1, b))


def irv(k, v):  # DeltaDiscoveryRequest.initial_resource_versions entry
    return pb_len(5, pb_len(1, k) + pb_len(2, v))


DELTA_REQ = "envoy.service.discovery.v3.DeltaDiscoveryRequest"
CLUSTER = "envoy.config.cluster.v3.Cluster"
TSTRUCT = "xds.type.v3.TypedStruct"
ROUTE_CFG = "envoy.config.route.v3.RouteConfiguration"
CLA = "envoy.config.endpoint.v3.ClusterLoadAssignment"
DRANGE = "envoy.type.v3.DoubleRange"

def KNOWN_BUG(reason):
    """A codec defect reported and not fixed yet: the test must keep failing
    until it is (strict), then this mark goes."""
    return pytest.mark.xfail(strict=True, reason="known codec bug: " + reason)


def param_id(p):
    return p.values[0] if hasattr(p, "values") else p[0]


# Wire encodings that a valid encoder may produce but the official encoder
# does not: xdsgate must read each exactly as the official runtime does.
WIRE_SAME = [
    ("unpacked-repeated", LISTENER, fcm(pb_varint(7, 1) + pb_varint(7, 2))),
    ("packed-then-unpacked", LISTENER, fcm(pb_len(7, varint(1) + varint(2)) + pb_varint(7, 3))),
    ("oneof-last-member-wins", LISTENER, sock(pb_varint(3, 80) + pb_len(4, b"http"))),
    ("scalar-twice-last-wins", LISTENER, pb_len(1, b"a") + pb_len(1, b"b")),
    ("message-twice-merges", LISTENER, pb_len(25, pb_len(7, b"a")) + pb_len(25, pb_len(9, pb_varint(1, 5)))),
    pytest.param("map-duplicate-key-last-wins", DELTA_REQ, irv(b"a", b"1") + irv(b"b", b"x") + irv(b"a", b"2")),
    ("map-entry-value-first", DELTA_REQ, pb_len(5, pb_len(2, b"v") + pb_len(1, b"k"))),
    ("map-entry-without-key", DELTA_REQ, pb_len(5, pb_len(2, b"v"))),
    ("map-entry-without-string-value", DELTA_REQ, pb_len(5, pb_len(1, b"k"))),
    ("struct-entry-without-value", TSTRUCT, pb_len(2, pb_len(1, pb_len(1, b"k")))),
    ("any-map-entry-without-value", ROUTE_CFG, pb_len(16, pb_len(1, b"envoy.filters.http.router"))),
    ("message-map-entry-without-value", CLA, pb_len(1, b"c") + pb_len(5, pb_len(1, b"ep"))),
    ("unknown-enum-value", CLUSTER, pb_varint(6, 99)),
    ("unknown-enum-value-in-oneof", CLUSTER, pb_varint(2, 99)),
    ("int32-negative-10-byte-varint", "envoy.type.v3.Int32Range", pb_varint(1, (1 << 64) - 1)),
    ("double-nan", DRANGE, pb_fixed64(1, struct.pack("<d", float("nan")))),
    ("double-infinity", DRANGE, pb_fixed64(2, struct.pack("<d", float("-inf")))),
    ("double-negative-zero", DRANGE, pb_fixed64(1, struct.pack("<d", -0.0))),
]


@pytest.mark.parametrize("name,type_name,data", WIRE_SAME, ids=[param_id(w) for w in WIRE_SAME])
def test_decode_wire_variants_like_official(official, name, type_name, data):
    msg = official.new(type_name)
    msg.ParseFromString(data)
    rc, out, err = xg(["decode", type_name], data)
    assert rc == 0, "exit %d: %s" % (rc, err)
    assert_same_json(json.loads(out, object_pairs_hook=unique_keys), official.to_json(msg), "xg-pbjson decode")


# Input the official runtime reads but xdsgate cannot represent or chooses to
# refuse: a clean exit 1 with a message, or else exactly the official reading
# (never a crash, never a silently different message).
WIRE_SAME_OR_REJECT = [
    pytest.param("nul-in-string", LISTENER, pb_len(1, b"a\x00b"),
                 marks=KNOWN_BUG("protobuf-c strings are NUL-terminated: 'a\\0b' silently becomes 'a'")),
    pytest.param("oneof-message-twice", LISTENER, sock(pb_len(2, b"1.1.1.1")) + sock(pb_varint(3, 80)),
                 marks=KNOWN_BUG("protobuf-c 1.4 replaces, not merges, a oneof message member seen twice")),
    ("timestamp-nanos-1e9", "envoy.service.ratelimit.v3.RateLimitResponse", pb_len(7, pb_len(2, pb_varint(2, 10**9)))),
]


@pytest.mark.parametrize("name,type_name,data", WIRE_SAME_OR_REJECT, ids=[param_id(w) for w in WIRE_SAME_OR_REJECT])
def test_decode_wire_variants_like_official_or_refused(official, name, type_name, data):
    msg = official.new(type_name)
    msg.ParseFromString(data)
    rc, out, err = xg(["decode", type_name], data)
    assert rc in (0, 1), "exit %d: %s" % (rc, err)
    if rc == 1:
        assert err.strip(), "refused without a message"
    else:
        assert_same_json(json.loads(out, object_pairs_hook=unique_keys), official.to_json(msg), "xg-pbjson decode")


def test_decode_rejects_invalid_utf8(official):
    for bad in (b"\xff", b"\xc0\x80", b"\xed\xa0\x80"):
        with pytest.raises(DecodeError):
            official.new(LISTENER).ParseFromString(pb_len(1, bad))
        rc, _, err = xg(["decode", LISTENER], pb_len(1, bad))
        assert rc == 1 and "UTF-8" in err, err


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


RL_RESP = "envoy.service.ratelimit.v3.RateLimitResponse"
STATUS = "google.rpc.Status"
I32R, I64R = "envoy.type.v3.Int32Range", "envoy.type.v3.Int64Range"
SOCKOPT = "envoy.config.core.v3.SocketOption"


def any_detail(type_name, body):
    return '{"details":[{"@type":"type.googleapis.com/%s"%s}]}' % (type_name, body)


def lfto(v):
    return '{"name":"x","listener_filters_timeout":%s}' % json.dumps(v)


def cluster(frag):
    return '{"name":"c",%s}' % frag


def panic(v):
    return cluster('"common_lb_config":{"healthy_panic_threshold":{"value":%s}}' % v)


def valid_until(v):
    return '{"quota":{"valid_until":"%s"}}' % v


# Corners of the proto3 JSON mapping: xdsgate accepts exactly what the
# official runtime accepts, and reads it to the same message.
JSON_VARIANTS = [
    ("duration-negative", LISTENER, lfto("-1.5s")),
    ("duration-nanos", LISTENER, lfto("1.000000001s")),
    ("duration-max", LISTENER, lfto("315576000000s")),
    ("duration-over-max", LISTENER, lfto("315576000001s")),
    ("duration-tiny-negative", LISTENER, lfto("-0.000000001s")),
    ("duration-without-unit", LISTENER, lfto("5")),
    ("duration-leading-dot", LISTENER, lfto(".5s")),
    ("timestamp-offset", RL_RESP, valid_until("2030-01-01T00:00:00.5+01:00")),
    ("timestamp-min", RL_RESP, valid_until("0001-01-01T00:00:00Z")),
    ("timestamp-max", RL_RESP, valid_until("9999-12-31T23:59:59.999999999Z")),
    ("timestamp-with-space", RL_RESP, valid_until("2030-01-01 00:00:00Z")),
    ("timestamp-feb-30", RL_RESP, valid_until("2030-02-30T00:00:00Z")),
    ("double-nan", CLUSTER, panic('"NaN"')),
    ("double-infinity", CLUSTER, panic('"Infinity"')),
    ("double-minus-infinity", CLUSTER, panic('"-Infinity"')),
    ("double-as-string", CLUSTER, panic('"1.5"')),
    ("double-denormal", CLUSTER, panic("1e-320")),
    ("double-max", CLUSTER, panic("1.7976931348623157e308")),
    ("double-overflow", CLUSTER, panic("2e308")),
    ("enum-by-number", CLUSTER, cluster('"type":3')),
    ("json-name-with-digit", CLUSTER, cluster('"outlier_detection":{"consecutive5xx":5}')),
    ("null-wrapper", CLUSTER, cluster('"outlier_detection":{"consecutive_5xx":null}')),
    ("null-repeated", CLUSTER, cluster('"health_checks":null')),
    ("null-duration", CLUSTER, cluster('"connect_timeout":null')),
    ("null-enum", CLUSTER, cluster('"type":null')),
    ("null-map", CLUSTER, cluster('"metadata":{"filter_metadata":null}')),
    ("null-in-repeated", LISTENER, '{"filter_chains":[null]}'),
    ("uint32-as-string", CLUSTER, cluster('"per_connection_buffer_limit_bytes":"1024"')),
    ("uint32-as-float", CLUSTER, cluster('"per_connection_buffer_limit_bytes":1024.0')),
    ("uint32-as-exponent", CLUSTER, cluster('"per_connection_buffer_limit_bytes":1.024e3')),
    ("uint32-string-with-space", CLUSTER, cluster('"per_connection_buffer_limit_bytes":" 1024"')),
    ("uint64-max-string", CLUSTER, cluster('"maglev_lb_config":{"table_size":"18446744073709551615"}')),
    ("uint64-max-number", CLUSTER, cluster('"maglev_lb_config":{"table_size":18446744073709551615}')),
    ("uint64-overflow", CLUSTER, cluster('"maglev_lb_config":{"table_size":"18446744073709551616"}')),
    ("uint64-beyond-double", CLUSTER, cluster('"maglev_lb_config":{"table_size":9007199254740993}')),
    ("int64-extremes-as-numbers", I64R, '{"start":-9223372036854775808,"end":9223372036854775807}'),
    ("int64-underflow", I64R, '{"start":"-9223372036854775809"}'),
    ("int32-overflow", I32R, '{"start":2147483648}'),
    ("int32-min", I32R, '{"start":-2147483648}'),
    ("bool-as-string", "envoy.config.route.v3.RouteMatch", '{"case_sensitive":"true"}'),
    ("bool-as-number", "envoy.config.route.v3.RouteMatch", '{"case_sensitive":1}'),
    ("bool-for-string", LISTENER, '{"name":true}'),
    ("bytes-urlsafe-base64", SOCKOPT, '{"buf_value":"-_8="}'),
    ("bytes-base64-unpadded", SOCKOPT, '{"buf_value":"AQ"}'),
    ("string-escapes", LISTENER, json.dumps({"name": "t\tn\nq\"b\\s/ \u00e9 \u007f \u2028"})),
    ("string-raw-utf8", LISTENER, '{"name":"\u00e9\u4e2d\U0001F600"}'),
    ("any-struct", STATUS, any_detail("google.protobuf.Struct", ',"value":{"a":[1,"b",null,{}]}')),
    ("any-value", STATUS, any_detail("google.protobuf.Value", ',"value":"s"')),
    ("any-list-value", STATUS, any_detail("google.protobuf.ListValue", ',"value":[1,2]')),
    ("any-uint32-wrapper", STATUS, any_detail("google.protobuf.UInt32Value", ',"value":5')),
    ("any-int64-wrapper", STATUS, any_detail("google.protobuf.Int64Value", ',"value":"-5"')),
    ("any-bytes-wrapper", STATUS, any_detail("google.protobuf.BytesValue", ',"value":"AAE="')),
    ("any-timestamp", STATUS, any_detail("google.protobuf.Timestamp", ',"value":"2020-01-01T00:00:00Z"')),
    ("any-empty", STATUS, any_detail("google.protobuf.Empty", "")),
    ("any-of-any", STATUS, any_detail("google.protobuf.Any",
                                      ',"value":{"@type":"type.googleapis.com/google.rpc.Status","code":1}')),
    ("any-type-last", STATUS, '{"details":[{"code":2,"@type":"type.googleapis.com/google.rpc.Status"}]}'),
    ("any-other-host", STATUS, '{"details":[{"@type":"example.com/x/google.rpc.Status","code":2}]}'),
    ("any-without-type", STATUS, '{"details":[{"code":1}]}'),
    ("any-empty-object", STATUS, '{"details":[{}]}'),
    ("struct-given-array", TSTRUCT, '{"value":[]}'),
    ("struct-nested-null", TSTRUCT, '{"value":{"a":{"b":null}}}'),
    ("map-empty-key", ROUTE_CFG,
     '{"typed_per_filter_config":{"":{"@type":"type.googleapis.com/envoy.config.route.v3.FilterConfig"}}}'),
    ("map-string-value-number", DELTA_REQ, '{"initial_resource_versions":{"a":1}}'),
    pytest.param("string-surrogate-pair-escape", LISTENER, '{"name":"\\ud83d\\ude00"}',
                 marks=KNOWN_BUG("libyaml rejects JSON's UTF-16 surrogate-pair escapes (Python's json.dumps "
                                 "writes them for any non-BMP character)")),
    pytest.param("map-string-value-null", DELTA_REQ, '{"initial_resource_versions":{"a":null}}'),
    pytest.param("map-struct-value-null", CLUSTER, cluster('"metadata":{"filter_metadata":{"a":null}}')),
    pytest.param("uint32-hex-string", CLUSTER, cluster('"per_connection_buffer_limit_bytes":"0x10"')),
    pytest.param("uint32-exponent-string", CLUSTER, cluster('"per_connection_buffer_limit_bytes":"1e3"')),
]


@pytest.mark.parametrize("name,type_name,text", JSON_VARIANTS, ids=[param_id(j) for j in JSON_VARIANTS])
def test_encode_json_variants_like_official(official, name, type_name, text):
    try:
        want = official.to_json(official.parse(type_name, json.loads(text)))
    except json_format.ParseError:
        want = None
    rc, out, err = xg(["encode", type_name], text.encode())
    if want is None:
        assert rc == 1 and err.strip(), "official rejects it; xg-pbjson exit %d %s" % (rc, err)
        return
    assert rc == 0, "official accepts it; xg-pbjson: %s" % err
    back = official.new(type_name)
    back.ParseFromString(out)
    assert_same_json(official.to_json(back), want, "official JSON of xg-pbjson's bytes")


# Where xdsgate is deliberately stricter than the official runtime.
JSON_STRICTER = [
    ("enum-unknown-number", CLUSTER, cluster('"lb_policy":99')),
    ("duplicate-key", CLUSTER, '{"name":"c","name":"d"}'),
    ("same-field-by-both-names", CLUSTER, cluster('"alt_stat_name":"a","altStatName":"b"')),
    ("duration-ten-fraction-digits", LISTENER, lfto("1.0000000001s")),
    ("duration-plus-sign", LISTENER, lfto("+5s")),
    ("any-type-without-slash", STATUS, '{"details":[{"@type":"google.rpc.Status","code":2}]}'),
    ("string-with-nul", LISTENER, '{"name":"a\\u0000b"}'),
]


@pytest.mark.parametrize("name,type_name,text", JSON_STRICTER, ids=[j[0] for j in JSON_STRICTER])
def test_encode_stricter_than_official(official, name, type_name, text):
    rc, out, err = xg(["encode", type_name], text.encode())
    assert rc == 1 and out == b"" and err.strip(), err


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
