"""Retries, circuit breakers and upstream connection limits through the real
xdsgate (proxy_retry.yaml): each retry_on condition (the upstream counts the
attempts of each request by its x-test-key), gRPC conditions, per-try and
per-try idle timeouts, the jittered back-off, the request body kept for
retries only up to the buffer limit, the virtual host's policy and the
attempt-count headers, an upstream killed under keep-alive load with no
failed request, max_requests / max_pending_requests overflow (503 UO) with
the upstream never seeing more than the limit, a HIGH-priority route with
its own limits, retries refused by max_retries and by a retry budget, the
x-envoy-* control headers (honoured from internal clients, ignored and
stripped from external ones; strict_check_headers and
respect_expected_rq_timeout), and max_requests_per_connection, idle_timeout
and max_connection_duration on upstream connections."""
import http.client
import json
import os
import re
import signal
import threading
import time
import urllib.request
import uuid

import pytest

import harness
from proxy_env import echo, have_grpc, header_values, start_upstream
from test_proxy_match import snapshot_world
from xds_env import wait_until


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    procs = harness.Procs(str(tmp_path_factory.mktemp("procs")))
    try:
        ups = {n: start_upstream(procs, "http", n) for n in ("a", "b", "k1", "k2", "gauge")}
        subst = {"UP_A": ups["a"], "UP_B": ups["b"], "K1": ups["k1"], "K2": ups["k2"], "GAUGE": ups["gauge"],
                 "H2": start_upstream(procs, "h2echo", "h2"), "DEAD": harness.free_port(),
                 "GRPC": start_upstream(procs, "grpc", "g") if have_grpc() else harness.free_port(),
                 "EXT": harness.free_port(), "STRICT": harness.free_port()}
        w = snapshot_world(procs, tmp_path_factory.mktemp("world"), "proxy_retry.yaml", subst)
        w.ups, w.ext, w.strict = ups, subst["EXT"], subst["STRICT"]
        w.killable = {p.name.split("-")[1]: p for p in procs.started if p.name.startswith("up-k")}
        harness.wait_port(w.ext)
        harness.wait_port(w.strict)
        yield w
        w.gate.stop_clean()  # SIGTERM after all the traffic: exit 0, no sanitizer report
    finally:
        procs.stop_all()


def key():
    return uuid.uuid4().hex


def get(world, path, k=None, headers=(), port=None, host=None, data=None):
    """(status, headers, body) of one request via curl; k goes in x-test-key and the query."""
    args = []
    if k:
        args += ["-H", "x-test-key: " + k]
        path += ("&" if "?" in path else "?") + "k=" + k
    for h in headers:
        args += ["-H", h]
    if host:
        args += ["-H", "Host: " + host]
    if data is not None:
        fn = os.path.join(world.tmp, "req-body")
        with open(fn, "wb") as f:
            f.write(data)
        args += ["--data-binary", "@" + fn]
    status, hdrs, _, _, body = world.curl(path, *args, port=port)
    return status, hdrs, body


def attempts(world, up, k):
    """What upstream up recorded for key k: [{t, server, headers, body_len}]."""
    with urllib.request.urlopen("http://127.0.0.1:%d/__attempts/%s" % (world.ups[up], k), timeout=10) as r:
        return json.loads(r.read())


def logged(world, k):
    """(status, response flags, details) of the stream log line of the request carrying key k."""
    def find():
        for m in re.finditer(r"stream \d+: \S+ (\S+) -> (\d+) (\S+) (\S+)", world.gate.proc.stderr()):
            if "k=" + k in m.group(1):
                return int(m.group(2)), m.group(3), m.group(4)
        return None
    return wait_until(find, 10, "stream log line for key " + k)


def hv(attempt, name):
    return [v for n, v in attempt["headers"] if n == name]


# --- each retry_on condition ---

@pytest.mark.parametrize("prefix,upath,status,tries", [
    ("/r5xx", "/fail/1/503", 200, 2),
    ("/r5xx", "/fail/9/500", 500, 3),          # num_retries 2 used up: the last attempt's answer
    ("/rgw", "/fail/1/502", 200, 2),
    ("/rgw", "/fail/1/504", 200, 2),
    ("/rgw", "/fail/1/500", 500, 1),           # 500 is no gateway error
    ("/r4xx", "/fail/1/409", 200, 2),
    ("/r4xx", "/fail/1/404", 404, 1),
    ("/rcodes", "/fail/1/418", 200, 2),
    ("/rcodes", "/fail/1/429", 429, 1),
    ("/rhdr", "/fail/1/200", 200, 2),          # the x-fail header, even on a 200
    ("/rhdr", "/fail/1/503", 200, 2),
    ("/rreset", "/reset-once", 200, 2),
    ("/rrbr", "/reset-once", 503, 1),          # the request had reached the upstream
    ("/r4xx", "/reset-once", 503, 1),
])
def test_each_retry_on_condition(world, prefix, upath, status, tries):
    k = key()
    got, hdrs, body = get(world, prefix + upath, k)
    assert got == status, body
    seen = attempts(world, "a", k)
    assert len(seen) == tries
    if status == 200:
        assert echo(body)["attempt"] == tries
    flags = logged(world, k)[1]
    assert ("URX" in flags) == (upath == "/fail/9/500"), flags


def test_connect_failure(world):
    # deadlive = [dead port, b] in round robin: without retries some requests fail with UF
    plain = [(k,) + get(world, "/nocf/peer", k) for k in [key() for _ in range(6)]]
    assert {200, 503} == {status for _, status, _, _ in plain}
    for k, status, _, body in plain:
        if status == 503:
            assert body == b"upstream connect error or disconnect/reset before headers. reset reason: connection failure"
            assert logged(world, k)[1:] == ("UF", "upstream_reset_before_response_started{connection_failure}")
    for prefix in ("/rcf", "/rrbr-dead"):  # reset-before-request covers connect failures too
        for _ in range(6):
            status, _, body = get(world, prefix + "/peer")
            assert status == 200 and echo(body)["server"] == "b"


def test_retries_exhausted_after_connect_failures_say_retried(world):
    # a cluster whose endpoint refuses: 3 attempts, then Envoy's "retried" wording and UF,URX
    doc = world.find("Cluster", "deadlive")
    eps = doc["load_assignment"]["endpoints"][0]["lb_endpoints"]
    saved = list(eps)
    del eps[1:]
    world.push("Cluster")
    try:
        k = key()
        status, _, body = get(world, "/rcf/peer", k)
        assert status == 503
        assert body == (b"upstream connect error or disconnect/reset before headers. "
                        b"retried and the latest reset reason: connection failure")
        assert logged(world, k)[1] == "UF,URX"
    finally:
        eps[:] = saved
        world.push("Cluster")


def test_refused_stream(world):
    # a request with a body (the pool itself requeues a refused body-less request once)
    k = key()
    status, _, body = get(world, "/rrefused/refuse-once", k, data=b"payload")
    assert status == 200 and echo(body)["body_len"] == 7
    k = key()
    status, _, body = get(world, "/norefused/refuse-once", k, data=b"payload")
    assert status == 503
    assert logged(world, k)[1:] == ("UR", "upstream_reset_before_response_started{remote_refused_stream_reset}")


@pytest.mark.skipif(not have_grpc(), reason="python3-grpcio not installed")
@pytest.mark.parametrize("code,times,want", [
    (14, 1, "ok:2"),           # UNAVAILABLE
    (8, 2, "ok:3"),            # RESOURCE_EXHAUSTED twice
    (13, 1, "INTERNAL"),       # not a configured condition
    (14, 5, "UNAVAILABLE"),    # num_retries 2: three attempts, the last status
])
def test_grpc_conditions(world, code, times, want):
    import grpc
    ch = grpc.insecure_channel("127.0.0.1:%d" % world.port)
    md = (("x-route", "grpc"), ("x-test-key", key()), ("x-fail-code", str(code)), ("x-fail-times", str(times)))
    try:
        try:
            got = ch.unary_unary("/test.Echo/FailN")(b"x", metadata=md, timeout=10).decode()
        except grpc.RpcError as e:
            got = e.code().name
        assert got == want
    finally:
        ch.close()


# --- timeouts and back-off ---

def test_per_try_timeout(world):
    k = key()
    status, hdrs, body = get(world, "/pertry/slowfirst/1/3000", k)
    assert status == 200 and echo(body)["attempt"] == 2
    # x-envoy-upstream-service-time counts from the end of the request: the first try's 0.4 s included
    assert int(hdrs["x-envoy-upstream-service-time"]) >= 400
    assert hv(attempts(world, "a", k)[0], "x-envoy-expected-rq-timeout-ms") == ["400"]
    k = key()
    status, _, body = get(world, "/pertry/slowfirst/9/3000", k)
    assert (status, body) == (504, b"upstream request timeout")
    assert logged(world, k)[1:] == ("UT,URX", "upstream_per_try_timeout")
    assert len(attempts(world, "a", k)) == 2


def test_per_try_idle_timeout(world):
    k = key()
    status, _, body = get(world, "/idle/slowfirst/1/3000", k)
    assert status == 200 and echo(body)["attempt"] == 2
    k = key()
    status, _, body = get(world, "/idle/slowfirst/9/3000", k)
    assert (status, body) == (504, b"upstream request timeout")
    assert logged(world, k)[1:] == ("UT,URX", "upstream_per_try_idle_timeout")


def test_backoff_spaces_attempts(world):
    # base 0.4 s, max 0.5 s: the gaps are jittered in [0, 0.4), [0, 0.5), [0, 0.5), [0, 0.5)
    k = key()
    status, _, body = get(world, "/backoff/fail/4/503", k)
    assert status == 200 and echo(body)["attempt"] == 5
    t = [a["t"] for a in attempts(world, "a", k)]
    gaps = [b - a for a, b in zip(t, t[1:])]
    assert all(g < 0.5 + 1.5 for g in gaps), gaps  # never above max_interval (generous slack)
    assert sum(gaps) > 0.1, gaps                    # without back-off they would be ~1 ms each


# --- the request body and the buffer limit ---

def test_body_is_replayed_and_over_the_limit_not_retried(world):
    k = key()
    status, _, body = get(world, "/limit/fail/1/503", k, data=os.urandom(512))
    assert status == 200
    seen = attempts(world, "a", k)
    assert [a["body_len"] for a in seen] == [512, 512]
    k = key()
    status, _, _ = get(world, "/limit/fail/1/503", k, data=os.urandom(4096))  # per_request_buffer_limit 1024
    assert status == 503
    assert [a["body_len"] for a in attempts(world, "a", k)] == [4096]


# --- virtual host policy and attempt counts ---

def test_vhost_policy_and_attempt_count_headers(world):
    k = key()
    status, hdrs, body = get(world, "/fail/1/503", k, host="counted.test")
    assert status == 200 and hdrs["x-envoy-attempt-count"] == "2"
    a1, a2 = attempts(world, "a", k)
    assert hv(a1, "x-envoy-attempt-count") == ["1"] and hv(a2, "x-envoy-attempt-count") == ["2"]
    assert hv(a1, "x-envoy-is-timeout-retry") == [] and hv(a2, "x-envoy-is-timeout-retry") == ["false"]
    # the route's own policy wins over the virtual host's: 503 is not retriable-4xx
    k = key()
    status, hdrs, _ = get(world, "/own/fail/1/503", k, host="counted.test")
    assert status == 503 and hdrs["x-envoy-attempt-count"] == "1"
    k = key()
    status, hdrs, _ = get(world, "/own/fail/1/409", k, host="counted.test")
    assert status == 200 and hdrs["x-envoy-attempt-count"] == "2"
    k = key()
    status, _, _ = get(world, "/pertry/slowfirst/1/3000", k, host="counted.test")
    assert status == 200
    assert hv(attempts(world, "a", k)[1], "x-envoy-is-timeout-retry") == ["true"]


def test_attempt_count_on_local_replies(world):
    k = key()
    status, hdrs, _ = get(world, "/pertry/slowfirst/9/3000", k, host="counted.test")
    assert status == 504 and hdrs["x-envoy-attempt-count"] == "2"


# --- an upstream killed under load ---

def test_upstream_killed_under_load_fails_no_request(world):
    stop, results, lock = threading.Event(), [], threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=15)
        while not stop.is_set():
            try:
                conn.request("GET", "/kill/gauge/30")
                r = conn.getresponse()
                body = r.read()
                out = (r.status, echo(body)["server"] if r.status == 200 else body[:200])
            except (OSError, http.client.HTTPException) as e:
                out = (0, repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=15)
            with lock:
                results.append(out)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len({s for _, s in results}) == 2, 20, "traffic on both endpoints")
        before = len(results)
        world.killable["k1"].signal(signal.SIGKILL)
        world.killable["k1"].wait(timeout=10)
        wait_until(lambda: len(results) > before + 100, 60, "100 requests after the kill")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    failed = [r for r in results if r[0] != 200]
    assert not failed, failed[:5]
    assert all(s == "k2" for _, s in results[before + 20:])


# --- circuit breakers ---

def gauge(world, reset=False):
    path = "/__maxconc/reset" if reset else "/__maxconc"
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (world.ups["gauge"], path), timeout=10) as r:
        return json.loads(r.read())


def concurrent(world, path, n):
    """n requests at once, each on its own connection: [(status, body)]."""
    out = [None] * n
    start = threading.Barrier(n)

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=30)
        start.wait()
        conn.request("GET", path + "?i=%d" % i)
        r = conn.getresponse()
        out[i] = (r.status, r.read())
        conn.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_max_requests_overflow_is_503_uo(world):
    gauge(world, reset=True)
    got = concurrent(world, "/narrow/gauge/1000", 10)
    ok = [s for s, _ in got if s == 200]
    over = [b for s, b in got if s == 503]
    assert len(ok) + len(over) == 10 and len(ok) >= 2 and over
    assert all(b == b"upstream connect error or disconnect/reset before headers. reset reason: overflow" for b in over)
    assert 1 <= gauge(world)["max"] <= 2  # the upstream never saw more than max_requests at once
    lines = re.findall(r"stream \d+: GET /gauge/1000\?i=\d+ -> 503 (\S+) (\S+)", world.gate.proc.stderr())
    assert lines and all(l == ("UO", "upstream_reset_before_response_started{overflow}") for l in lines)


def test_high_priority_has_its_own_thresholds(world):
    gauge(world, reset=True)
    got = concurrent(world, "/high/gauge/500", 6)
    assert [s for s, _ in got] == [200] * 6
    assert gauge(world)["max"] > 2


def test_max_pending_requests_overflow(world):
    gauge(world, reset=True)
    # one connection and one waiting request for the whole process; as in Envoy a worker
    # whose pool has no connection may still open one, so two may run at once
    got = concurrent(world, "/pending/gauge/1000", 6)
    statuses = [s for s, _ in got]
    assert statuses.count(200) >= 1 and statuses.count(503) >= 2 and statuses.count(200) + statuses.count(503) == 6
    assert 1 <= gauge(world)["max"] <= 2


@pytest.mark.parametrize("prefix", ["/budget", "/onlyone"])
def test_retry_overflow_is_not_retried(world, prefix):
    # every first attempt fails at once; each retried attempt then takes 1.5 s, holding its
    # retry unit: with one unit (max_retries 1, or a budget of 1 % with min_retry_concurrency 1)
    # the other requests are not retried and get the upstream's 503, flagged UO
    keys = [key() for _ in range(6)]
    got = [None] * 6

    def one(i):
        got[i] = get(world, prefix + "/fail/1/503/1500", keys[i])[0]
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got.count(200) >= 1 and got.count(503) >= 1 and got.count(200) + got.count(503) == 6, got
    for k, status in zip(keys, got):
        flags = logged(world, k)[1]
        assert ("UO" in flags) == (status == 503), (status, flags)
        assert len(attempts(world, "b", k)) == (2 if status == 200 else 1)


# --- the x-envoy-* control headers ---

def test_control_headers_from_internal_clients(world):
    k = key()
    status, _, _ = get(world, "/plain/fail/1/503", k, ["x-envoy-retry-on: 5xx"])
    assert status == 200
    assert all(hv(a, "x-envoy-retry-on") == [] for a in attempts(world, "a", k))
    k = key()
    status, _, _ = get(world, "/plain/fail/3/503", k, ["x-envoy-retry-on: 5xx", "x-envoy-max-retries: 3"])
    assert status == 200 and len(attempts(world, "a", k)) == 4
    k = key()
    status, _, _ = get(world, "/plain/fail/1/418", k, ["x-envoy-retry-on: retriable-status-codes",
                                                       "x-envoy-retriable-status-codes: 418"])
    assert status == 200
    k = key()
    status, _, _ = get(world, "/plain/fail/1/200", k, ["x-envoy-retry-on: retriable-headers",
                                                       "x-envoy-retriable-header-names: x-fail"])
    assert status == 200 and len(attempts(world, "a", k)) == 2
    k = key()
    status, _, _ = get(world, "/plain/slowfirst/1/3000", k, ["x-envoy-retry-on: 5xx",
                                                             "x-envoy-upstream-rq-per-try-timeout-ms: 300"])
    assert status == 200 and len(attempts(world, "a", k)) == 2
    k = key()
    status, _, _ = get(world, "/plain/slowfirst/1/3000", k, ["x-envoy-upstream-rq-timeout-ms: 300"])
    assert status == 504
    assert hv(attempts(world, "a", k)[0], "x-envoy-expected-rq-timeout-ms") == ["300"]


def test_control_headers_from_external_clients_are_ignored_and_stripped(world):
    sent = ["x-envoy-retry-on: 5xx", "x-envoy-max-retries: 3", "x-envoy-upstream-rq-timeout-ms: 300",
            "x-envoy-upstream-rq-per-try-timeout-ms: 100", "x-envoy-retriable-status-codes: 503",
            "x-envoy-expected-rq-timeout-ms: 50", "x-envoy-retry-grpc-on: unavailable"]
    k = key()
    status, _, _ = get(world, "/plain/fail/1/503", k, sent, port=world.ext)
    assert status == 503
    k2 = key()
    status, _, _ = get(world, "/plain/slowfirst/1/1000", k2, sent, port=world.ext)
    assert status == 200
    for a in attempts(world, "a", k) + attempts(world, "a", k2):
        names = [n for n, _ in a["headers"]]
        assert not [h for h in sent if h.split(":")[0] in names and not h.startswith("x-envoy-expected")], names
        assert hv(a, "x-envoy-expected-rq-timeout-ms") == ["15000"]  # the route's, not the client's
    assert len(attempts(world, "a", k)) == 1


def test_strict_check_headers_and_respect_expected_timeout(world):
    status, _, body = get(world, "/plain/peer", key(), ["x-envoy-max-retries: abc"], port=world.strict)
    assert (status, body) == (400, b"invalid header 'x-envoy-max-retries' with value 'abc'")
    k = key()
    status, _, _ = get(world, "/plain/peer", k, ["x-envoy-retry-on: 5xx,bogus"], port=world.strict)
    assert status == 400
    assert logged(world, k)[1:] == ("IH", "request_headers_failed_strict_check{x-envoy-retry-on}")
    assert get(world, "/plain/peer", key(), ["x-envoy-max-retries: 2"], port=world.strict)[0] == 200
    # respect_expected_rq_timeout: an internal client's expected timeout is the route timeout
    k = key()
    status, _, _ = get(world, "/plain/slowfirst/1/3000", k, ["x-envoy-expected-rq-timeout-ms: 300"],
                       port=world.strict)
    assert status == 504
    # without it the header is only overwritten
    k = key()
    status, _, _ = get(world, "/plain/slowfirst/1/500", k, ["x-envoy-expected-rq-timeout-ms: 100"])
    assert status == 200
    assert hv(attempts(world, "a", k)[0], "x-envoy-expected-rq-timeout-ms") == ["15000"]


# --- upstream connection limits ---

def peers(world, path, pauses):
    """The upstream connection (its client port) of each request on one downstream
    keep-alive connection (so one worker, one pool); pauses[i] is slept before request i."""
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=10)
    out = []
    for pause in pauses:
        time.sleep(pause)
        conn.request("GET", path)
        r = conn.getresponse()
        assert r.status == 200
        out.append(echo(r.read())["peer"])
    conn.close()
    return out


def test_max_requests_per_connection(world):
    got = peers(world, "/lreq/peer", [0] * 6)
    assert got[0] == got[1] and got[2] == got[3] and got[4] == got[5]
    assert len(set(got)) == 3


def test_upstream_idle_timeout(world):
    got = peers(world, "/lidle/peer", [0, 0.1, 1.5])
    assert got[0] == got[1]  # reused while fresh
    assert got[2] != got[1]  # idle for 1.5 s > idle_timeout 0.5 s: closed, a new one


def test_upstream_max_connection_duration(world):
    got = peers(world, "/ldur/peer", [0, 0.2, 0.2, 0.2, 1.2])
    assert len(set(got[:4])) == 1  # kept alive...
    assert got[4] != got[3]        # ...until older than 1 s: closed once idle
