"""The xdsgate skeleton as a user sees it: flags, --help/--version, the admin
listener (/ready, 404, 400 on garbage), clean exit on SIGTERM/SIGINT, and
exactly one TLS library linked."""
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import harness

XDSGATE = harness.binary("xdsgate")
FLAGS = ["--xds-server", "--node-id", "--node-cluster", "--admin", "--concurrency", "--log-level",
         "--xds-mode", "--ignore-unknown-fields", "--version", "--help"]


def start(procs, *extra, concurrency="2"):
    """Starts xdsgate on a free admin port; returns (proc, port) once it answers."""
    port = harness.free_port()
    p = procs.start([XDSGATE, "--admin", "127.0.0.1:%d" % port, "--concurrency", concurrency,
                     "--node-id", "test-node", *extra])
    p.wait_output(r"admin: listening on 127\.0\.0\.1:%d" % port, timeout=10)
    harness.wait_port(port)
    return p, port


def stop_clean(p):
    """SIGTERM; the process must exit 0 without sanitizer reports (ASan builds)."""
    p.signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0, p.stderr()[-3000:]
    err = p.stderr()
    assert "ERROR: " not in err and "runtime error" not in err, err[-3000:]


def http_get(port, path):
    """(status, body) of GET path on the admin port."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def raw(port, data):
    """Sends raw bytes, half-closes, returns everything the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk


def run_flags(procs, *args):
    """Runs xdsgate with args to completion; returns (exit code, stdout, stderr)."""
    p = procs.start([XDSGATE, *args])
    rc = p.wait(timeout=10)
    return rc, p.stdout(), p.stderr()


def test_ready_is_503_without_a_config(procs):
    p, port = start(procs, "--xds-server", "127.0.0.1:1")
    assert http_get(port, "/ready") == (503, "not ready\n")
    p.wait_output(r"xds: control plane 127\.0\.0\.1:1, sotw mode")
    assert p.alive()
    stop_clean(p)


def thread_names(pid):
    names = set()
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            names.add(f.read().strip())
    return names


def test_concurrency_starts_that_many_worker_threads(procs):
    p, _ = start(procs, concurrency="3")
    deadline = time.monotonic() + 5
    while True:  # each worker names its own thread once it runs
        names = thread_names(p.pid)
        if {"worker-0", "worker-1", "worker-2"} <= names or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert {"worker-0", "worker-1", "worker-2"} <= names, names
    assert "worker-3" not in names
    stop_clean(p)


def test_unknown_paths_are_404_and_wrong_method_405(procs):
    p, port = start(procs)
    assert http_get(port, "/nope")[0] == 404
    assert http_get(port, "/")[0] == 404
    resp = raw(port, b"POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 405 ")
    assert b"\r\nallow: GET\r\n" in resp
    stop_clean(p)


def test_keep_alive_serves_several_requests_on_one_connection(procs):
    p, port = start(procs)
    resp = raw(port, b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
    assert resp.count(b"HTTP/1.1 503 ") == 3
    stop_clean(p)


def test_malformed_requests_get_400_and_the_process_lives(procs):
    p, port = start(procs)
    for junk in [b"\x00\x01garbage\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                 b"GET /ready HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64]:
        resp = raw(port, junk)
        assert resp.startswith(b"HTTP/1.1 400 Bad Request\r\n"), (junk, resp)
        assert b"connection: close" in resp
    big = b"GET /ready HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    assert raw(port, big).startswith(b"HTTP/1.1 431 ")
    assert p.alive()
    assert http_get(port, "/ready")[0] == 503
    stop_clean(p)


def stops_cleanly(procs, sig):
    p, port = start(procs)
    t0 = time.monotonic()
    p.signal(sig)
    assert p.wait(timeout=5) == 0
    assert time.monotonic() - t0 < 5
    p.wait_output(r"received %s, shutting down" % sig.name)
    p.wait_output(r"\] stopped")
    err = p.stderr()
    assert "ERROR: " not in err and "runtime error" not in err, err[-3000:]


def test_sigterm_exits_0(procs):
    stops_cleanly(procs, signal.SIGTERM)


def test_sigint_exits_0(procs):
    stops_cleanly(procs, signal.SIGINT)


def test_sigterm_with_an_open_admin_connection(procs):
    p, port = start(procs, concurrency="4")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 503 ")
        p.signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0


def test_sigpipe_does_not_kill(procs):
    p, port = start(procs)
    # Ask for many responses and reset the connection without reading them.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n" * 500)
    s.close()
    time.sleep(0.2)
    assert p.alive()
    assert http_get(port, "/ready")[0] == 503
    stop_clean(p)


def test_bad_flags_exit_2_naming_the_flag(procs):
    cases = [
        (["--concurrency", "0"], "--concurrency"),
        (["--concurrency", "257"], "--concurrency"),
        (["--admin", "127.0.0.1:70000"], "--admin"),
        (["--admin", "nonsense"], "--admin"),
        (["--xds-server", "cp:"], "--xds-server"),
        (["--log-level", "chatty"], "--log-level"),
        (["--xds-mode", "both"], "--xds-mode"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--node-id"], "--node-id"),
    ]
    for args, flag in cases:
        rc, out, err = run_flags(procs, *args)
        assert rc == 2, (args, rc, err)
        assert flag in err, (args, err)


def test_help_lists_every_flag(procs):
    rc, out, err = run_flags(procs, "--help")
    assert rc == 0
    for flag in FLAGS:
        assert flag in out, flag
    assert "127.0.0.1:9901" in out


def test_version_names_the_tls_library(procs):
    rc, out, _ = run_flags(procs, "--version")
    assert rc == 0
    assert re.match(r"xdsgate \S+ \(TLS: .+\)", out)
    if "openssl" in harness.BUILD.lower() or "OpenSSL" in out:
        assert "OpenSSL" in out
    else:
        assert "BoringSSL" in out


def test_admin_port_in_use_fails_with_a_message(procs):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = procs.start([XDSGATE, "--admin", "127.0.0.1:%d" % port, "--concurrency", "1"])
        rc = p.wait(timeout=10)
        assert rc == 1
        assert re.search(r"admin: cannot listen on 127\.0\.0\.1:%d: Address already in use" % port, p.stderr())


def test_exactly_one_tls_library_is_linked(procs):
    ldd = procs.start(["ldd", XDSGATE])
    assert ldd.wait(timeout=10) == 0
    out = ldd.stdout()
    libssl = [l for l in out.splitlines() if re.search(r"\blibssl\.so", l)]
    libcrypto = [l for l in out.splitlines() if re.search(r"\blibcrypto\.so", l)]
    assert len(libssl) == 1, out
    assert len(libcrypto) == 1, out
    _, version, _ = run_flags(procs, "--version")
    if "BoringSSL" in version:
        assert "/android/" in libssl[0] and "libssl.so.3" not in out, out
    else:
        assert "libssl.so.3" in libssl[0] and "/android/" not in out, out
