#!/usr/bin/python3
"""More upstream servers for the proxy integration tests (DNS clusters and
upstream TLS), built on upstreams.py's echo handler; each is started as its
own process by a test (procs) and stopped by pid:

  upstreams_ext.py http-at ADDR PORT NAME
        the echo server of "upstreams.py http" on another loopback address
        (DNS clusters: one name, several addresses, one port)

  upstreams_ext.py https PORT NAME CERT KEY [--client-ca CA] [--require-client-cert]
                   [--alpn h2,http/1.1] [--max-tls 1.2]
        TLS in front of the echo server: the JSON also says what the TLS
        layer saw: "tls": {"sni", "alpn", "version", "resumed",
        "client_cert_subject"}; a connection whose ALPN is h2 is served by
        upstreams.py's HTTP/2 echo ("version": "HTTP/2")

  upstreams_ext.py dns-evil PORT IP GOOD
        a UDP DNS server that answers its first GOOD A queries with IP (TTL
        0), then only hostile bytes: garbage, cut-off messages, a stranger's
        id, compression loops, truncated flags with no TCP behind them
"""
import os
import socket
import ssl
import struct
import sys
import threading
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import upstreams  # noqa: E402


def serve_http_at(addr, port, name):
    srv = upstreams.Server((addr, int(port)), upstreams.Handler)
    srv.name = name
    srv.seen = []
    print("listening", flush=True)
    srv.serve_forever()


class TlsHandler(upstreams.Handler):
    """The echo handler, plus what the TLS layer saw."""

    def _describe(self, body):
        d = super()._describe(body)
        s = self.connection
        cert = s.getpeercert()
        subject = ""
        if cert:
            subject = ",".join("%s=%s" % kv for rdn in cert.get("subject", ()) for kv in rdn)
        d["tls"] = {"sni": getattr(s, "xg_sni", None), "alpn": s.selected_alpn_protocol(), "version": s.version(),
                    "resumed": s.session_reused, "client_cert_subject": subject}
        return d


def serve_https(port, name, cert, key, *opts):
    opts = list(opts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if "--client-ca" in opts:
        ctx.load_verify_locations(opts[opts.index("--client-ca") + 1])
        ctx.verify_mode = ssl.CERT_REQUIRED if "--require-client-cert" in opts else ssl.CERT_OPTIONAL
    if "--alpn" in opts:
        ctx.set_alpn_protocols(opts[opts.index("--alpn") + 1].split(","))
    if "--max-tls" in opts:
        ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[
            opts[opts.index("--max-tls") + 1]]

    def on_sni(sslobj, server_name, _ctx):
        sslobj.xg_sni = server_name

    ctx.sni_callback = on_sni
    server = types.SimpleNamespace(name=name, seen=[])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(256)
    print("listening", flush=True)

    def handle(raw, addr):
        try:
            raw.settimeout(30)
            s = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            print("handshake failed: %s" % e, flush=True)
            raw.close()
            return
        try:
            if s.selected_alpn_protocol() == "h2":
                upstreams.H2Echo(s, name).run()
            else:
                TlsHandler(s, addr, server)
        except (OSError, ssl.SSLError):
            pass
        finally:
            s.close()

    while True:
        c, addr = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(c, addr), daemon=True).start()


def dns_question(q):
    """(id, question bytes, qtype) of a query."""
    qid = struct.unpack("!H", q[:2])[0]
    o = 12
    while q[o] != 0:
        o += 1 + q[o]
    return qid, q[12:o + 5], struct.unpack("!H", q[o + 1:o + 3])[0]


def serve_dns_evil(port, ip, good):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(port)))
    print("listening", flush=True)
    answered, n = 0, 0
    while True:
        q, peer = s.recvfrom(4096)
        try:
            qid, question, qtype = dns_question(q)
        except (IndexError, struct.error):
            continue
        if qtype != 1:  # no AAAA: NOERROR, no answer
            s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question, peer)
            continue
        if answered < int(good):
            answered += 1
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + socket.inet_aton(ip)
            s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr, peer)
            continue
        n += 1
        hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
        evil = [
            os.urandom(37),                                              # garbage
            hdr + question + b"\xc0\x0c\x00\x01",                        # cut off inside a record
            struct.pack("!HHHHHH", qid ^ 0x1111, 0x8180, 1, 0, 0, 0) + question,  # a stranger's id
            hdr + question + b"\xc0\x30" + struct.pack("!HHIH", 1, 1, 9, 4) + b"\x01\x02\x03\x04",  # forward pointer
            struct.pack("!HHHHHH", qid, 0x8380, 1, 0, 0, 0) + question,  # truncated: TCP has nobody
            hdr + question + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 9, 400) + b"\x01\x02",  # rdlength past the end
        ]
        for m in evil if n % 2 else evil[:2]:
            s.sendto(m, peer)


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "http-at":
        serve_http_at(*sys.argv[2:5])
    elif kind == "https":
        serve_https(*sys.argv[2:])
    elif kind == "dns-evil":
        serve_dns_evil(*sys.argv[2:5])
    else:
        sys.exit("unknown kind " + kind)
