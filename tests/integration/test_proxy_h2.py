"""HTTP/2 (and codec_type) behaviour of the real xdsgate, configured by the
stub from snapshots/proxy_h2.yaml: hostile frames from a raw client built
on python3-h2's framing (hyperframe, hpack) -- rapid reset, CONTINUATION,
PING, SETTINGS, empty-DATA, PRIORITY and WINDOW_UPDATE floods, HEADERS on
an idle lower stream, too many streams, oversized and malformed requests --
answered as Envoy does (GOAWAY and close, 431, or a stream reset with
stream_error_on_invalid_http_message); after each the proxy still serves a
fresh client, and bad requests never reach the upstream. Also codec_type
HTTP2 / HTTP1 (plaintext and TLS ALPN), HTTP/1 framing faults, and the
two-phase GOAWAY when a listener changes under an HTTP/2 connection."""
import copy
import json
import os
import socket
import ssl
import threading
import time
import urllib.request

import pytest
import yaml

h2 = pytest.importorskip("h2")  # Debian python3-h2 (deploy/deps.sh)
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import hpack  # noqa: E402
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,  # noqa: E402
                              PingFrame, PriorityFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

import harness  # noqa: E402
from proxy_env import make_ca_and_cert, raw, start_upstream, status_of  # noqa: E402
from xds_env import Gate, Stub, render, wait_until, write_atomic  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR, PROTOCOL_ERROR, ENHANCE_YOUR_CALM = 0, 1, 11
MAX_ID = 2 ** 31 - 1

# Listeners added to the snapshot: name -> HttpConnectionManager fields.
VARIANTS = {
    "streamerr": {"stream_error_on_invalid_http_message": True},
    "override": {"stream_error_on_invalid_http_message": True,
                 "http2_protocol_options": {"override_stream_error_on_invalid_http_message": False}},
    "h2only": {"codec_type": "HTTP2"},
    "h1only": {"codec_type": "HTTP1", "http_protocol_options": {"accept_http_10": True}},
    "h1tls": {"codec_type": "HTTP1"},
    "limits": {"request_headers_timeout": "1s",
               "common_http_protocol_options": {"max_headers_count": 10},
               "http2_protocol_options": {"max_concurrent_streams": 5,
                                          "max_consecutive_inbound_frames_with_empty_payload": 3,
                                          "max_inbound_priority_frames_per_stream": 2,
                                          "max_inbound_window_update_frames_per_data_frame_sent": 1,
                                          "max_outbound_control_frames": 20}},
    "outq": {"http2_protocol_options": {"max_outbound_frames": 100}},
}


class H2World:
    """Upstream a, the stub serving proxy_h2.yaml plus the VARIANTS listeners, and xdsgate."""

    def __init__(self, procs, tmp, variants=VARIANTS, hcm=None):
        self.tmp = str(tmp)
        self.up_a = start_upstream(procs, "http", "a")
        self.port = harness.free_port()
        self.doc = yaml.safe_load(render("proxy_h2.yaml", {"LISTEN": self.port, "UP_A": self.up_a}))
        plain = self.doc["resources"][0]
        self.hcm_of(plain).update(hcm or {})
        self.ports = {"plain": self.port}
        self.ca, cert, key = make_ca_and_cert(self.tmp)
        for name, fields in variants.items():
            lis = copy.deepcopy(plain)
            lis["name"] = name
            self.ports[name] = lis["address"]["socket_address"]["port_value"] = harness.free_port()
            self.hcm_of(lis).update(copy.deepcopy(fields))
            self.hcm_of(lis)["stat_prefix"] = name
            if name.endswith("tls"):
                lis["filter_chains"][0]["transport_socket"] = tls_socket(cert, key)
            self.doc["resources"].append(lis)
        self.path = os.path.join(self.tmp, "snapshot.yaml")
        self.save()
        self.stub = Stub(procs, self.path)
        self.gate = Gate(procs, self.stub.port, "sotw", ["--log-level", "debug"])
        self.gate.wait_ready()
        for p in self.ports.values():
            harness.wait_port(p)

    @staticmethod
    def hcm_of(listener):
        return listener["filter_chains"][0]["filters"][0]["typed_config"]

    def save(self):
        write_atomic(self.path, yaml.safe_dump(self.doc, sort_keys=False))

    def push_listeners(self):
        before = len([e for e in self.stub.events("ack") if e["type_url"].endswith("Listener")])
        self.save()
        wait_until(lambda: len([e for e in self.stub.events("ack") if e["type_url"].endswith("Listener")]) > before,
                   10, "ACK of the new listeners")

    def seen(self):
        """Every path upstream a was asked for."""
        with urllib.request.urlopen("http://127.0.0.1:%d/__seen" % self.up_a, timeout=5) as r:
            return [p for _, p in json.loads(r.read())]

    def still_serves(self):
        """A fresh HTTP/2 client (python3-h2) gets 200 through the upstream: nothing crashed."""
        assert self.gate.proc.alive()
        status, body = h2_get(self.port, "/fresh")
        assert status == 200 and json.loads(body)["path"] == "/fresh"


def tls_socket(cert, key):
    return {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        "common_tls_context": {"alpn_protocols": ["h2", "http/1.1"],
                               "tls_certificates": [{"certificate_chain": {"filename": cert},
                                                     "private_key": {"filename": key}}]}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    try:
        w = H2World(procs, tmp_path_factory.mktemp("world"))
        yield w
        w.gate.stop_clean()  # exit 0 and no sanitizer report after all the abuse
    finally:
        procs.stop_all()


# --- clients ---

def h2_get(port, path, headers=(), timeout=10):
    """(status, body) of one GET over h2c with python3-h2, a well-behaved client."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        c.initiate_connection()
        sid = c.get_next_available_stream_id()
        c.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "h2.test"), (":path", path)]
                       + list(headers), end_stream=True)
        s.sendall(c.data_to_send())
        status, body = None, b""
        while True:
            data = s.recv(65536)
            if not data:
                raise AssertionError("connection closed before the response ended")
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    raise AssertionError("stream reset: %r" % ev)
                elif isinstance(ev, h2.events.StreamEnded):
                    return status, body
            s.sendall(c.data_to_send())
    finally:
        s.close()


class Raw:
    """An HTTP/2 client that sends exactly the frames a test builds (hyperframe,
    hpack) and records what comes back; it acknowledges the server's SETTINGS
    (after which too many streams are a connection error, RFC 9113 §5.1.2)."""

    def __init__(self, port, rcvbuf=None, timeout=5.0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(("127.0.0.1", port))
        self.enc, self.dec = hpack.Encoder(), hpack.Decoder()
        self.buf, self.frames, self.closed = b"", [], False
        self.s.sendall(PREFACE + SettingsFrame(0).serialize())

    def close(self):
        self.s.close()

    def block(self, headers):
        return self.enc.encode(headers)

    def request(self, sid, path, method="GET", extra=(), end_stream=True, authority="h2.test"):
        hdrs = [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)] + list(extra)
        flags = {"END_HEADERS"} | ({"END_STREAM"} if end_stream else set())
        return HeadersFrame(sid, self.block(hdrs), flags=flags)

    def send(self, *frames):
        self.s.sendall(b"".join(f.serialize() for f in frames))

    def pump(self, until=None, timeout=5.0):
        """Reads frames until until(self) is true, the peer closes, or timeout; returns until's last value."""
        deadline = time.monotonic() + timeout
        while not self.closed and not (until and until(self)) and time.monotonic() < deadline:
            try:
                self.s.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.closed = True
                break
            self.buf += data
            self._parse()
        return until(self) if until else None

    def _parse(self):
        while len(self.buf) >= 9:
            f, n = Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + n:
                return
            f.parse_body(memoryview(self.buf[9:9 + n]))
            self.buf = self.buf[9 + n:]
            if isinstance(f, HeadersFrame):
                f.decoded = self.dec.decode(bytes(f.data))
            if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
                self.s.sendall(SettingsFrame(0, flags={"ACK"}).serialize())
            self.frames.append(f)

    def goaways(self):
        return [(f.last_stream_id, f.error_code) for f in self.frames if isinstance(f, GoAwayFrame)]

    def resets(self, sid):
        return [f.error_code for f in self.frames if isinstance(f, RstStreamFrame) and f.stream_id == sid]

    def status(self, sid):
        """The final :status on sid (0 when none yet)."""
        for f in self.frames:
            if isinstance(f, HeadersFrame) and f.stream_id == sid:
                st = int(dict(f.decoded).get(":status", "0"))
                if st >= 200:
                    return st
        return 0

    def ended(self, sid):
        return any(f.stream_id == sid and "END_STREAM" in f.flags for f in self.frames
                   if isinstance(f, (HeadersFrame, DataFrame))) or bool(self.resets(sid))

    def body(self, sid):
        return b"".join(bytes(f.data) for f in self.frames if isinstance(f, DataFrame) and f.stream_id == sid)


def parse_frames(data):
    """The complete HTTP/2 frames in data."""
    frames = []
    while len(data) >= 9:
        f, n = Frame.parse_frame_header(memoryview(data[:9]))
        if len(data) < 9 + n:
            break
        f.parse_body(memoryview(data[9:9 + n]))
        frames.append(f)
        data = data[9 + n:]
    return frames


def goaway_and_close(c, code, timeout=10.0):
    """Waits for the GOAWAY with code, then for the close."""
    c.pump(lambda c: any(g[1] == code for g in c.goaways()), timeout)
    assert any(g[1] == code for g in c.goaways()), "GOAWAY %d expected, got %r" % (code, c.goaways())
    c.pump(None, timeout)
    assert c.closed, "the connection stayed open after GOAWAY"


def tcp_state(sock):
    """The kernel's TCP state of sock (TCP_INFO): 1 established, 7 closed (reset), 8 close-wait (FIN)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def flood_without_reading(port, frame_bytes, total=200000, chunk=2000, timeout=10.0):
    """Sends up to total copies of one frame from a client with a tiny receive
    buffer that never reads a byte; True when the proxy ends the connection
    (a send fails, or the kernel sees its FIN or reset) within timeout."""
    c = Raw(port, rcvbuf=4096)
    c.s.settimeout(2.0)
    try:
        for _ in range(total // chunk):
            c.s.sendall(frame_bytes * chunk)
    except (BrokenPipeError, ConnectionResetError):
        c.close()
        return True
    except socket.timeout:
        pass  # the proxy stopped reading: it must still close
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and tcp_state(c.s) == 1:
        time.sleep(0.1)
    closed = tcp_state(c.s) != 1
    c.close()
    return closed


# --- hostile frames ---

def test_rapid_reset_is_goaway_enhance_your_calm_and_others_keep_working(world):
    other = Raw(world.port)
    other.send(other.request(1, "/direct"))
    assert other.pump(lambda c: c.ended(1)) and other.status(1) == 200
    c = Raw(world.port)
    frames = []
    for i in range(1000):
        sid = 1 + 2 * i
        frames += [c.request(sid, "/direct"), RstStreamFrame(sid, error_code=8)]
    try:
        c.send(*frames)
    except (BrokenPipeError, ConnectionResetError):
        pass
    goaway_and_close(c, ENHANCE_YOUR_CALM)
    # a client connected before the attack is unaffected
    other.send(other.request(3, "/direct"))
    assert other.pump(lambda c: c.ended(3)) and other.status(3) == 200 and other.goaways() == []
    other.close()
    world.still_serves()


def test_continuation_flood_is_goaway_and_close(world):
    c = Raw(world.port)
    frames = [HeadersFrame(1, c.block([(":method", "GET"), (":scheme", "http"), (":authority", "x"),
                                       (":path", "/h2-contflood")]))]
    frames += [ContinuationFrame(1, c.block([("x-pad", "0123456789")])) for _ in range(200)]
    try:
        c.send(*frames)
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.pump(lambda c: c.goaways())
    assert c.goaways() and c.goaways()[0][1] != NO_ERROR
    c.pump(None)
    assert c.closed
    assert "/h2-contflood" not in world.seen()
    world.still_serves()


def test_headers_on_an_idle_lower_stream_is_protocol_error(world):
    """RFC 9113 §5.1.1: stream 3 was skipped when 5 opened; it can never be opened."""
    c = Raw(world.port)
    c.send(c.request(5, "/direct"), c.request(3, "/h2-idle-lower"))
    goaway_and_close(c, PROTOCOL_ERROR)
    assert [g for g in c.goaways() if g[1] == PROTOCOL_ERROR][0][0] == 5
    assert "/h2-idle-lower" not in world.seen()
    world.still_serves()


def test_ping_flood_without_reading_is_closed(world):
    assert flood_without_reading(world.port, PingFrame(0, opaque_data=b"12345678").serialize())
    world.still_serves()


def test_settings_flood_without_reading_is_closed(world):
    assert flood_without_reading(world.port, SettingsFrame(0).serialize())
    world.still_serves()


def test_empty_data_frame_flood_is_goaway(world):
    c = Raw(world.port)
    c.send(c.request(1, "/h2-empty", "POST", end_stream=False), *[DataFrame(1, b"") for _ in range(10)])
    goaway_and_close(c, ENHANCE_YOUR_CALM)
    world.still_serves()


def test_exceeding_max_concurrent_streams_is_a_connection_error(world):
    """limits: max_concurrent_streams 5, acknowledged by the client; a sixth open stream is a PROTOCOL_ERROR."""
    c = Raw(world.ports["limits"])
    c.pump(lambda c: any(isinstance(f, SettingsFrame) for f in c.frames))
    c.send(*[c.request(1 + 2 * i, "/slow/500") for i in range(5)], c.request(11, "/h2-sixth"))
    goaway_and_close(c, PROTOCOL_ERROR)
    assert "/h2-sixth" not in world.seen()
    world.still_serves()


def test_oversized_header_block_is_431_on_the_stream(world):
    c = Raw(world.port)
    block = c.block([(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/h2-big"),
                     ("x-big", os.urandom(31000).hex())])  # 62 KB, over max_request_headers_kb (60)
    frames = [HeadersFrame(1, block[:16384])]
    rest = block[16384:]
    while rest:
        frames.append(ContinuationFrame(1, rest[:16384], flags={"END_HEADERS"} if len(rest) <= 16384 else set()))
        rest = rest[16384:]
    frames[-1].flags.add("END_HEADERS")
    frames[0].flags.add("END_STREAM")
    c.send(*frames)
    assert c.pump(lambda c: c.ended(1)) and c.status(1) == 431
    c.send(c.request(3, "/h2-after-big"))  # the connection goes on
    assert c.pump(lambda c: c.ended(3)) and c.status(3) == 200
    assert c.goaways() == []
    assert "/h2-big" not in world.seen()
    world.still_serves()


def test_max_headers_count_is_431(world):
    """limits: common_http_protocol_options.max_headers_count 10."""
    c = Raw(world.ports["limits"])
    c.send(c.request(1, "/h2-many", extra=[("x-h%d" % i, "v") for i in range(12)]),
           c.request(3, "/h2-few", extra=[("x-h%d" % i, "v") for i in range(3)]))
    assert c.pump(lambda c: c.ended(1) and c.ended(3))
    assert c.status(1) == 431 and c.status(3) == 200
    seen = world.seen()
    assert "/h2-few" in seen and "/h2-many" not in seen
    c.close()


MALFORMED = {
    "uppercase_name": ([("X-Upper", "1")], None),
    "connection_specific": ([("connection", "keep-alive")], None),
    "te_gzip": ([("te", "gzip")], None),
    "content_length_mismatch": ([("content-length", "10")], b"abc"),
}


def send_malformed(c, name, sid):
    extra, body = MALFORMED[name]
    path = "/h2-bad-%s-%d" % (name, sid)
    c.send(c.request(sid, path, "POST" if body else "GET", extra, end_stream=body is None))
    if body:
        c.send(DataFrame(sid, body, flags={"END_STREAM"}))
    return path


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_closes_the_connection_by_default(world, name):
    """Envoy's default (stream_error_on_invalid_http_message false): GOAWAY PROTOCOL_ERROR, close."""
    c = Raw(world.port)
    path = send_malformed(c, name, 1)
    goaway_and_close(c, PROTOCOL_ERROR)
    if MALFORMED[name][1] is None:  # header faults never leave the proxy
        assert path not in world.seen()
    world.still_serves()


@pytest.mark.parametrize("listener", ["streamerr", "override"])
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_stream_error_on_invalid_http_message(world, listener, name):
    """HCM stream_error_on_invalid_http_message true: only the stream is reset
    and the connection serves on -- unless the HTTP/2 override says false."""
    c = Raw(world.ports[listener])
    path = send_malformed(c, name, 1)
    if listener == "override":
        goaway_and_close(c, PROTOCOL_ERROR)
        return
    assert c.pump(lambda c: c.resets(1)) == [PROTOCOL_ERROR]
    c.send(c.request(3, "/h2-after-bad"))
    assert c.pump(lambda c: c.ended(3)) and c.status(3) == 200
    assert c.goaways() == [] and not c.closed
    if MALFORMED[name][1] is None:
        assert path not in world.seen()
    c.close()


def test_configured_empty_frame_limit(world):
    """limits: max_consecutive_inbound_frames_with_empty_payload 3 (Envoy's default 1 would
    end the first connection)."""
    c = Raw(world.ports["limits"])
    c.send(c.request(1, "/h2-empty-ok", "POST", end_stream=False), *[DataFrame(1, b"") for _ in range(3)],
           DataFrame(1, b"x", flags={"END_STREAM"}))
    assert c.pump(lambda c: c.ended(1)) and c.status(1) == 200
    assert json.loads(c.body(1))["body_len"] == 1
    c.send(c.request(3, "/h2-empty-flood", "POST", end_stream=False), *[DataFrame(3, b"") for _ in range(4)])
    goaway_and_close(c, ENHANCE_YOUR_CALM)
    world.still_serves()


def test_configured_priority_frame_limit(world):
    """limits: max_inbound_priority_frames_per_stream 2: 2 x (1 + 0 streams) PRIORITY frames, then GOAWAY."""
    c = Raw(world.ports["limits"])
    c.send(PriorityFrame(101), PriorityFrame(103))
    c.pump(None, 0.5)
    assert c.goaways() == [] and not c.closed
    c.send(PriorityFrame(105))
    goaway_and_close(c, ENHANCE_YOUR_CALM)
    # the default (100 per stream) takes far more
    d = Raw(world.port)
    d.send(*[PriorityFrame(101 + 2 * i) for i in range(50)], d.request(1, "/direct"))
    assert d.pump(lambda c: c.ended(1)) and d.status(1) == 200 and d.goaways() == []
    d.close()


def test_configured_window_update_limit(world):
    """limits: max_inbound_window_update_frames_per_data_frame_sent 1: after one stream
    answered with one DATA frame, 5 + 2 x (1 + 1 x 1) = 9 WINDOW_UPDATEs are allowed."""
    c = Raw(world.ports["limits"])
    c.send(c.request(1, "/direct"))
    assert c.pump(lambda c: c.ended(1)) and c.body(1) == b"ok\n"
    c.send(*[WindowUpdateFrame(0, window_increment=1) for _ in range(9)])
    c.pump(None, 0.5)
    assert c.goaways() == [] and not c.closed
    c.send(WindowUpdateFrame(0, window_increment=1))
    goaway_and_close(c, ENHANCE_YOUR_CALM)


def test_configured_outbound_frame_limit(world):
    """outq: max_outbound_frames 100: 150 PINGs in one burst queue 150 ACKs at once."""
    c = Raw(world.ports["outq"])
    c.pump(lambda c: any(isinstance(f, SettingsFrame) for f in c.frames))
    c.send(*[PingFrame(0, opaque_data=b"abcdefgh") for _ in range(150)])
    goaway_and_close(c, ENHANCE_YOUR_CALM)
    d = Raw(world.port)  # the default (10000) answers them all
    d.send(*[PingFrame(0, opaque_data=b"abcdefgh") for _ in range(150)])
    assert d.pump(lambda c: sum(isinstance(f, PingFrame) for f in c.frames) == 150)
    assert d.goaways() == []
    d.close()


def test_configured_outbound_control_frame_limit(world):
    """limits: max_outbound_control_frames 20; the default (1000) takes the same burst."""
    burst = [PingFrame(0, opaque_data=b"abcdefgh") for _ in range(60)]
    c = Raw(world.ports["limits"])
    c.pump(lambda c: any(isinstance(f, SettingsFrame) for f in c.frames))
    c.send(*burst)
    goaway_and_close(c, ENHANCE_YOUR_CALM)
    d = Raw(world.port)
    d.send(*burst)
    assert d.pump(lambda c: sum(isinstance(f, PingFrame) for f in c.frames) == 60)
    d.close()


def test_request_headers_timeout_ends_only_the_stream(world):
    """limits: request_headers_timeout 1s. Envoy sends a 408 local reply on the stream whose
    headers did not complete; the connection is not drained."""
    c = Raw(world.ports["limits"])
    c.pump(lambda c: any(isinstance(f, SettingsFrame) for f in c.frames))  # acknowledged before the block starts
    hdrs = c.block([(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/h2-slow-headers")])
    c.send(HeadersFrame(1, hdrs, flags={"END_STREAM"}))  # no END_HEADERS: the block never completes
    assert c.pump(lambda c: c.ended(1), 5.0)
    assert c.status(1) == 408
    c.send(ContinuationFrame(1, c.block([("x-late", "1")]), flags={"END_HEADERS"}))
    c.send(c.request(3, "/direct"))
    assert c.pump(lambda c: c.ended(3), 3.0) and c.status(3) == 200
    c.pump(None, 1.5)
    assert c.goaways() == []
    c.close()


# --- codec_type and HTTP/1 framing ---

def test_codec_http2_serves_h2c_and_refuses_http1(world):
    port = world.ports["h2only"]
    assert h2_get(port, "/h2-only")[0] == 200
    out = raw(port, b"GET /h1-on-h2 HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)  # read until the close
    frames = parse_frames(out)  # never parsed as HTTP/1: HTTP/2 frames, then the close
    assert isinstance(frames[0], SettingsFrame)
    assert [f.error_code for f in frames if isinstance(f, GoAwayFrame)] == [PROTOCOL_ERROR]
    assert "/h1-on-h2" not in world.seen()
    world.still_serves()


def test_codec_http1_refuses_the_h2c_preface(world):
    port = world.ports["h1only"]
    out = raw(port, PREFACE + SettingsFrame(0).serialize(), timeout=5)
    assert status_of(out) == 400 and out.count(b"HTTP/1.1") == 1
    out = raw(port, b"GET /h1-fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200 and b'"path": "/h1-fine"' in out


def test_codec_http1_over_tls_never_negotiates_h2(world):
    ctx = ssl.create_default_context(cafile=world.ca)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", world.ports["h1tls"]), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="secure.test") as t:
            assert t.selected_alpn_protocol() in (None, "http/1.1")
            t.sendall(b"GET /h1-tls HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n")
            out = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                out += chunk
    assert status_of(out) == 200 and b'"path": "/h1-tls"' in out


def test_identical_duplicate_content_length_is_400(world):
    out = raw(world.port, b"POST /h1-dupcl HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert status_of(out) == 400 and out.count(b"HTTP/1.1") == 1
    assert "/h1-dupcl" not in world.seen()


def test_transfer_encoding_in_http10_is_400(world):
    """h1only accepts HTTP/1.0 (accept_http_10): the 400 is for the Transfer-Encoding."""
    port = world.ports["h1only"]
    out = raw(port, b"GET /h10-fine HTTP/1.0\r\nHost: x\r\n\r\n")
    assert status_of(out) == 200
    out = raw(port, b"POST /h10-te HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert status_of(out) == 400
    assert "/h10-te" not in world.seen()


# --- drain ---

def test_listener_change_drains_http2_in_two_phases(procs, tmp_path):
    """A changed listener drains its HTTP/2 connections as Envoy does: GOAWAY(2^31-1)
    at once, the final GOAWAY(last stream) after drain_timeout (1 s here), and the
    stream in flight completes."""
    w = H2World(procs, tmp_path, variants={}, hcm={"drain_timeout": "1s"})
    c = Raw(w.port)
    c.send(c.request(1, "/slow/2500"))
    time.sleep(0.3)
    w.hcm_of(w.doc["resources"][0])["server_name"] = "xdsgate-v2"
    w.push_listeners()
    t0 = time.monotonic()
    assert c.pump(lambda c: c.goaways(), 5.0) == [(MAX_ID, NO_ERROR)]
    assert c.pump(lambda c: len(c.goaways()) == 2, 5.0)
    assert c.goaways()[1] == (1, NO_ERROR)
    assert time.monotonic() - t0 >= 0.7  # after drain_timeout, not at once
    assert c.pump(lambda c: c.ended(1), 10.0)
    assert c.status(1) == 200 and json.loads(c.body(1))["path"] == "/slow/2500"
    c.pump(None, 5.0)
    assert c.closed  # nothing left in flight: the connection closes
    assert h2_get(w.port, "/after")[0] == 200  # new connections use the new listener
    w.gate.stop_clean()
