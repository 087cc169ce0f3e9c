#!/usr/bin/python3
"""A demo upstream for `make demo` and the tests: answers every HTTP request
with a line naming itself and the request, so traffic through xdsgate shows
which upstream served it. usage: demo_upstream.py PORT [NAME]"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def _reply(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = ("hello from %s: %s %s\n" % (self.server.name, self.command, self.path)).encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _reply

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(sys.argv[1])
    http.server.ThreadingHTTPServer.request_queue_size = 256  # the default backlog (5) drops connects under load
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.name = sys.argv[2] if len(sys.argv) > 2 else "upstream-%d" % port
    server.serve_forever()


if __name__ == "__main__":
    main()
