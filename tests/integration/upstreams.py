#!/usr/bin/python3
"""Upstream servers for the proxy integration tests, each started as its own
process by the tests (procs) and stopped by pid:

  upstreams.py http PORT NAME   threaded HTTP/1.1 server: answers every request
                                with JSON describing it (server name, method,
                                path, headers in order, body length and sha256);
                                special paths below; a websocket echo on
                                "Upgrade: websocket"
  upstreams.py grpc PORT NAME   gRPC server (python3-grpcio) without generated
                                code: /test.Echo/Unary, /test.Echo/ServerStream,
                                /test.Echo/BidiStream, /test.Echo/Fail,
                                /test.Echo/FailN (fails with status x-fail-code
                                the first x-fail-times calls of key x-test-key,
                                then answers "ok:<attempt>")
  upstreams.py h2echo PORT NAME HTTP/2 server (h2c with prior knowledge, python3-h2):
                                answers every request with the same JSON as
                                "http" plus "peer" (the client's port, i.e.
                                which connection it came on) and "active"
                                (requests of that connection being answered
                                when this one arrived); /slow/MS waits first
                                without holding up other streams;
                                /refuse-once resets the first stream of key
                                x-test-key with REFUSED_STREAM
  upstreams.py garbage PORT NAME  reads a request head and answers bytes that
                                are not HTTP, then closes
  upstreams.py grpchealth PORT NAME  grpc.health.v1.Health/Check (python3-grpcio,
                                no generated code): "" and every service set
                                answer their status (1 SERVING, 2 NOT_SERVING),
                                others NOT_FOUND; /xg.HealthControl/Set with
                                b"SERVICE=STATUS" changes one, /xg.HealthControl/Last
                                answers JSON {"service", "metadata", "count"}

Special HTTP paths (the query is ignored):
  /status/N        status N with the usual JSON body
  /big/N           N bytes of body (content-length)
  /chunked/N       N bytes of body in 1000-byte chunks (transfer-encoding: chunked)
  /pattern/N       N pseudo-random bytes (random.Random(N)), content-length
  /chunkedpattern/N  the same bytes in 40,000-byte chunks
  /slow/MS         waits MS milliseconds, then answers
  /drip/N/MS       N chunks of 10 bytes, MS milliseconds apart (chunked)
  /close           answers and closes the connection
  /reset           closes the connection without answering
  /__seen          JSON list of every request line seen so far (method and path)
  /__health        a health-check endpoint: answers the status last set
                   (200 at first) with the usual JSON
  /__health/set/N  its status from now on is N
  /__health/last   JSON of the last /__health request (the usual description
                   plus "count": how many arrived)
  /__fail/set/N    every other request (not /__*) is answered N from now on; 0
                   turns that off
  /__delay/set/MS  every other request (not /__*) waits MS milliseconds first
  /peer            the usual JSON plus "peer": the client's port (which
                   connection the request came on)

Per-key paths (the key is the x-test-key request header, else the path), for
retry tests; every request is recorded under its key:
  /fail/N/STATUS[/MS]  STATUS (with "x-fail: <attempt>") for the first N
                   requests of a key, then 200 (after MS milliseconds)
  /slowfirst/N/MS  waits MS milliseconds for the first N requests of a key,
                   then answers at once
  /reset-once      closes the connection without answering the first request
                   of a key, then answers
  /__attempts/KEY  JSON list of the requests recorded for KEY: {"t" (monotonic
                   seconds), "server", "headers", "body_len"}
  /gauge/MS        waits MS milliseconds while counted as in progress
  /__maxconc       {"max", "active"}: the most /gauge requests in progress at
                   once since the last /__maxconc/reset
"""
import base64
import hashlib
import http.server
import json
import random
import socket
import socketserver
import struct
import sys
import threading
import time


def pattern(n):
    """n pseudo-random bytes, the same for the same n (tests compare hashes)."""
    return random.Random(n).randbytes(n)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            return self.rfile.read(n)
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _describe(self, body):
        return {
            "server": self.server.name,
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }

    def _send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-upstream", self.server.name)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _chunked(self, chunks, delay=0.0):
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-upstream", self.server.name)
        self.end_headers()
        for c in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.flush()
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")

    def _websocket(self):
        key = self.headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        ws_echo(self.rfile, self.wfile, self.server.name)
        self.close_connection = True

    def _record(self, body):
        """The per-key attempt number (1-based) of this request, recorded under its key."""
        key = self.headers.get("x-test-key") or self.path
        with self.server.lock:
            seen = self.server.attempts.setdefault(key, [])
            seen.append({"t": time.monotonic(), "server": self.server.name, "body_len": len(body),
                         "headers": [[k.lower(), v] for k, v in self.headers.items()]})
            return len(seen)

    def _gauge(self, ms):
        with self.server.lock:
            self.server.active += 1
            self.server.max_active = max(self.server.max_active, self.server.active)
        try:
            time.sleep(ms / 1000.0)
        finally:
            with self.server.lock:
                self.server.active -= 1

    def _keyed(self, parts, body):
        """The per-key paths; None when the path is not one of them."""
        if parts[0] not in ("fail", "slowfirst", "reset-once", "gauge"):
            return None
        n = self._record(body)
        desc = dict(self._describe(body), attempt=n)
        if parts[0] == "fail" and n <= int(parts[1]):
            self._send(int(parts[2]), json.dumps(desc).encode(), extra=[("x-fail", str(n))])
            return True
        if parts[0] == "fail" and len(parts) > 3:
            time.sleep(int(parts[3]) / 1000.0)
        if parts[0] == "slowfirst" and n <= int(parts[1]):
            time.sleep(int(parts[2]) / 1000.0)
        if parts[0] == "reset-once" and n == 1:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if parts[0] == "gauge":
            self._gauge(int(parts[1]))
        self._send(200, json.dumps(desc).encode())
        return True

    def _health(self):
        """The health-check control paths (/__health..., /__fail/set/N): True when answered."""
        srv, parts = self.server, self.path.split("?")[0].strip("/").split("/")
        if parts[0] in ("__fail", "__delay") and len(parts) == 3 and parts[1] == "set":
            setattr(srv, "fail_status" if parts[0] == "__fail" else "delay_ms", int(parts[2]))
            self._send(200, b"ok", "text/plain")
        elif parts[0] == "__health" and len(parts) == 3 and parts[1] == "set":
            srv.health_status = int(parts[2])
            self._send(200, b"ok", "text/plain")
        elif parts[0] == "__health" and len(parts) == 2 and parts[1] == "last":
            self._send(200, json.dumps(getattr(srv, "health_last", None)).encode())
        elif parts[0] == "__health":
            srv.health_count = getattr(srv, "health_count", 0) + 1
            srv.health_last = dict(self._describe(self._body()), count=srv.health_count)
            self._send(getattr(srv, "health_status", 200), json.dumps(srv.health_last).encode())
        else:
            return False
        return True

    def _reply(self):
        if self.path == "/__seen":
            return self._send(200, json.dumps(self.server.seen).encode())
        if self._health():
            return None
        if getattr(self.server, "delay_ms", 0):
            time.sleep(self.server.delay_ms / 1000.0)
        if getattr(self.server, "fail_status", 0):
            return self._send(self.server.fail_status, json.dumps(self._describe(self._body())).encode())
        if self.path.startswith("/__attempts/"):
            with self.server.lock:
                return self._send(200, json.dumps(self.server.attempts.get(self.path[12:], [])).encode())
        if self.path.startswith("/__maxconc"):
            with self.server.lock:
                out = {"max": self.server.max_active, "active": self.server.active}
                if self.path == "/__maxconc/reset":
                    self.server.max_active = 0
            return self._send(200, json.dumps(out).encode())
        self.server.seen.append([self.command, self.path])
        if (self.headers.get("upgrade") or "").lower() == "websocket":
            return self._websocket()
        body = self._body()
        parts = self.path.split("?")[0].strip("/").split("/")
        if self._keyed(parts, body) is not None:
            return None
        if parts[0] == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000.0)
        if parts[0] == "big":
            return self._send(200, b"x" * int(parts[1]), "application/octet-stream")
        if parts[0] == "pattern":  # n bytes no two runs of which repeat: a misplaced piece shows
            return self._send(200, pattern(int(parts[1])), "application/octet-stream")
        if parts[0] == "chunkedpattern":
            body = pattern(int(parts[1]))
            return self._chunked([body[i:i + 40000] for i in range(0, len(body), 40000)])
        if parts[0] == "chunked":
            n = int(parts[1])
            return self._chunked([b"y" * min(1000, n - i) for i in range(0, n, 1000)])
        if parts[0] == "drip":
            return self._chunked([b"0123456789"] * int(parts[1]), int(parts[2]) / 1000.0)
        if parts[0] == "peer":
            desc = dict(self._describe(body), peer=self.client_address[1])
            return self._send(200, json.dumps(desc).encode())
        status = int(parts[1]) if parts[0] == "status" else 200
        extra = [("connection", "close")] if parts[0] == "close" else []
        if parts[0] == "close":
            self.close_connection = True
        return self._send(status, json.dumps(self._describe(body)).encode(), extra=extra)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _reply


def ws_echo(rfile, wfile, name):
    """Echoes websocket frames back (unmasked, prefixed with the server name for text) until close."""
    while True:
        head = rfile.read(2)
        if len(head) < 2:
            return
        op, n = head[0] & 0x0F, head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", rfile.read(8))[0]
        mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(rfile.read(n)))
        if op == 8:
            wfile.write(b"\x88\x00")
            wfile.flush()
            return
        if op == 1:
            data = ("%s: " % name).encode() + data
        out = bytes([0x80 | op])
        out += bytes([len(data)]) if len(data) < 126 else b"\x7e" + struct.pack("!H", len(data))
        wfile.write(out + data)
        wfile.flush()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default (5) drops connects under load: the proxy then sees connect timeouts


def serve_http(port, name):
    srv = Server(("127.0.0.1", port), Handler)
    srv.name = name
    srv.seen = []
    srv.lock = threading.Lock()
    srv.attempts = {}
    srv.active = srv.max_active = 0
    print("listening", flush=True)
    srv.serve_forever()


def serve_grpc(port, name):
    import grpc
    from concurrent import futures

    def unary(req, ctx):
        ctx.set_trailing_metadata((("x-trailer", "done"),))
        md = dict(ctx.invocation_metadata())
        return ("%s:%s:%s" % (name, md.get("x-request-id", "-") != "-", req.decode())).encode()

    def server_stream(req, ctx):
        ctx.set_trailing_metadata((("x-trailer", "streamed"),))
        for i in range(int(req.decode() or "3")):
            yield ("%s:%d" % (name, i)).encode()

    def bidi(it, ctx):
        for m in it:
            yield m.upper()

    def fail(req, ctx):
        ctx.abort(grpc.StatusCode.PERMISSION_DENIED, "no way")

    calls, lock = {}, threading.Lock()

    def fail_n(req, ctx):
        md = dict(ctx.invocation_metadata())
        with lock:
            n = calls[md.get("x-test-key", "")] = calls.get(md.get("x-test-key", ""), 0) + 1
        if n <= int(md.get("x-fail-times", "0")):
            code = [c for c in grpc.StatusCode if c.value[0] == int(md.get("x-fail-code", "14"))][0]
            ctx.abort(code, "failing %d" % n)
        return ("ok:%d" % n).encode()

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "BidiStream": grpc.stream_stream_rpc_method_handler(bidi),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "FailN": grpc.unary_unary_rpc_method_handler(fail_n),
    }
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    srv.add_insecure_port("127.0.0.1:%d" % port)
    srv.start()
    print("listening", flush=True)
    srv.wait_for_termination()


REFUSED_KEYS, REFUSED_LOCK = set(), threading.Lock()


def refuse_first(headers):
    """True for the first /refuse-once stream of its x-test-key."""
    hd = dict(headers)
    if not hd.get(":path", "").startswith("/refuse-once"):
        return False
    with REFUSED_LOCK:
        key = hd.get("x-test-key", "")
        first = key not in REFUSED_KEYS
        REFUSED_KEYS.add(key)
        return first


def pb_string_field1(data):
    """Field 1 (a string) of a tiny protobuf message, "" when absent."""
    i, out = 0, ""
    while i < len(data):
        key, i = data[i], i + 1
        if key & 7 == 2:
            n, shift = 0, 0
            while True:
                b, i = data[i], i + 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if key >> 3 == 1:
                out = data[i:i + n].decode()
            i += n
        else:
            return out
    return out


def serve_grpc_health(port, name):
    import grpc
    from concurrent import futures
    status, lock, last = {"": 1}, threading.Lock(), {"count": 0}

    def check(req, ctx):
        svc = pb_string_field1(req)
        with lock:
            last.update(service=svc, metadata=[[k, v] for k, v in ctx.invocation_metadata()], count=last["count"] + 1)
            st = status.get(svc)
        if st is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return bytes([0x08, st]) if st else b""

    def set_status(req, ctx):
        svc, st = req.decode().split("=")
        with lock:
            status[svc] = int(st)
        return b"ok"

    def get_last(req, ctx):
        with lock:
            return json.dumps(last).encode()

    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    srv.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("grpc.health.v1.Health",
                                             {"Check": grpc.unary_unary_rpc_method_handler(check)}),
        grpc.method_handlers_generic_handler("xg.HealthControl", {
            "Set": grpc.unary_unary_rpc_method_handler(set_status),
            "Last": grpc.unary_unary_rpc_method_handler(get_last)})))
    srv.add_insecure_port("127.0.0.1:%d" % port)
    srv.start()
    print("listening", flush=True)
    srv.wait_for_termination()


class H2Echo:
    """One h2c connection: the h2 state machine fed from the socket on this
    thread; answers may come from other threads (/slow), so every use of the
    state machine and the socket holds the lock."""

    def __init__(self, sock, name):
        import h2.config
        import h2.connection
        self.sock, self.name, self.lock = sock, name, threading.Lock()
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.requests = {}
        self.active = 0

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def answer(self, sid, headers, body, active):
        hd = dict(headers)
        path = hd.get(":path", "/")
        parts = path.split("?")[0].strip("/").split("/")
        if parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000.0)
        desc = {"server": self.name, "method": hd.get(":method"), "path": path, "version": "HTTP/2",
                "headers": [[k, v] for k, v in headers], "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(), "peer": self.sock.getpeername()[1],
                "active": active}
        out = json.dumps(desc).encode()
        with self.lock:
            self.conn.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                         ("content-length", str(len(out))), ("x-upstream", self.name)])
            self.conn.send_data(sid, out, end_stream=True)
            self.flush()
            self.active -= 1

    def run(self):
        import h2.events
        with self.lock:
            self.conn.initiate_connection()
            self.flush()
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            ended = []
            with self.lock:
                for ev in self.conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        self.requests[ev.stream_id] = (ev.headers, b"")
                    elif isinstance(ev, h2.events.DataReceived):
                        h, b = self.requests.get(ev.stream_id, ([], b""))
                        self.requests[ev.stream_id] = (h, b + ev.data)
                        self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in self.requests and \
                            refuse_first(self.requests[ev.stream_id][0]):
                        del self.requests[ev.stream_id]
                        self.conn.reset_stream(ev.stream_id, error_code=7)  # REFUSED_STREAM
                    elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in self.requests:
                        self.active += 1
                        ended.append((ev.stream_id,) + self.requests.pop(ev.stream_id) + (self.active,))
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        self.flush()
                        return
                self.flush()
            for args in ended:
                threading.Thread(target=self.answer, args=args, daemon=True).start()


def serve_tcp(port, name, handle):
    """A threaded TCP server: handle(sock, name) per connection."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(256)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run(c=c):
            try:
                handle(c, name)
            except OSError:
                pass
            finally:
                c.close()
        threading.Thread(target=run, daemon=True).start()


def serve_h2echo(port, name):
    serve_tcp(port, name, lambda c, n: H2Echo(c, n).run())


def garbage(c, name):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(65536)
        if not chunk:
            return
        head += chunk
    c.sendall(b"this is not HTTP at all\r\n\r\n")


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else "%s-%d" % (kind, port)
    {"http": serve_http, "grpc": serve_grpc, "h2echo": serve_h2echo, "grpchealth": serve_grpc_health,
     "garbage": lambda p, n: serve_tcp(p, n, garbage)}[kind](port, name)
