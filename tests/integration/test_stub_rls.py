"""control-plane-stub's rate-limit service (--ratelimit-config) against a real
gRPC client (python3-grpcio, messages built from proto/ by rls_client.py):
exact counts per fixed window, nested descriptors, wildcard and prefix
values, unlimited, shadow mode, overrides, several domains, reloads that keep
counters, the stub-only knobs (delay, error, headers, body), and clear errors
for bad files and bad requests."""
import os
import signal
import threading
import time

import pytest
import yaml

import harness

grpc = pytest.importorskip("grpc")
import rls_client  # noqa: E402
from rls_client import OK, OVER_LIMIT, SECOND, MINUTE, HOUR  # noqa: E402

BASIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshots", "basic.yaml")

MAIN = {
    "domain": "main",
    "descriptors": [
        {"key": "generic_key", "value": "five", "rate_limit": {"unit": "minute", "requests_per_unit": 5}},
        {"key": "generic_key", "value": "persec", "rate_limit": {"unit": "second", "requests_per_unit": 3}},
        # README example 2: a placeholder level, then a key-only (any value) limit under it.
        {"key": "message_type", "value": "marketing",
         "descriptors": [{"key": "to_number", "rate_limit": {"unit": "day", "requests_per_unit": 2}}]},
        {"key": "to_number", "rate_limit": {"unit": "day", "requests_per_unit": 4}},
        # README example 3: a specific value beats the key-only node.
        {"key": "remote_address", "rate_limit": {"unit": "minute", "requests_per_unit": 3}},
        {"key": "remote_address", "value": "50.0.0.5", "rate_limit": {"unit": "minute", "requests_per_unit": 0}},
        {"key": "path", "value": "/api/*", "rate_limit": {"unit": "hour", "requests_per_unit": 1, "name": "api"}},
        {"key": "path", "value": "/api/v2/*", "rate_limit": {"unit": "hour", "requests_per_unit": 2}},
        {"key": "ldap", "rate_limit": {"unlimited": True}},
        {"key": "soft", "shadow_mode": True, "rate_limit": {"unit": "minute", "requests_per_unit": 1}},
        {"key": "nolimit"},
    ],
}
OTHER = {"domain": "other", "descriptors": [
    {"key": "generic_key", "value": "five", "rate_limit": {"unit": "minute", "requests_per_unit": 1}}]}


def write(path, doc):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        f.write(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    os.replace(tmp, str(path))


class Stub:
    def __init__(self, procs, rl_path=None):
        self.port = harness.free_port()
        argv = [harness.binary("control-plane-stub"), "--port", str(self.port), "--snapshot", BASIC]
        if rl_path is not None:
            argv += ["--ratelimit-config", str(rl_path)]
        self.proc = procs.start(argv, name="stub")
        self.proc.wait_output(r'"event":"listening"', stream="stdout")
        self.client = rls_client.Client(self.port)

    def stop_clean(self):
        self.client.close()
        self.proc.signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        err = self.proc.stderr()
        assert rc == 0, "stub exited %s; stderr:\n%s" % (rc, err[-4000:])
        assert "Sanitizer" not in err and "runtime error" not in err, err[-4000:]


@pytest.fixture
def stub(procs, tmp_path):
    """A stub serving MAIN and OTHER from tmp_path/rl.yaml; stops cleanly at the end."""
    path = tmp_path / "rl.yaml"
    write(path, [MAIN, OTHER])
    s = Stub(procs, path)
    s.path = path
    yield s
    s.stop_clean()


def fresh_minute():
    """Waits, when needed, so that the next few seconds stay in one minute window."""
    if time.time() % 60 > 50:
        time.sleep(60.5 - time.time() % 60)


def fresh_second():
    """Waits for the start of a second, so that a burst stays in one window."""
    time.sleep(1.02 - time.time() % 1)


def codes(resp):
    return [s.code for s in resp.statuses]


def test_exact_count_per_window_with_limit_fields(stub):
    fresh_minute()
    got = [stub.client.check("main", [[("generic_key", "five")]]) for _ in range(7)]
    assert [r.overall_code for r in got] == [OK] * 5 + [OVER_LIMIT] * 2
    assert [r.statuses[0].limit_remaining for r in got] == [4, 3, 2, 1, 0, 0, 0]
    st = got[0].statuses[0]
    assert (st.current_limit.requests_per_unit, st.current_limit.unit) == (5, MINUTE)
    left = 60 - int(time.time()) % 60
    assert abs(st.duration_until_reset.seconds - left) <= 1 and 1 <= st.duration_until_reset.seconds <= 60


def test_second_window_resets_at_the_boundary(stub):
    fresh_second()
    burst = [stub.client.check("main", [[("generic_key", "persec")]]).overall_code for _ in range(5)]
    assert burst == [OK] * 3 + [OVER_LIMIT] * 2
    fresh_second()
    again = [stub.client.check("main", [[("generic_key", "persec")]]).overall_code for _ in range(4)]
    assert again == [OK] * 3 + [OVER_LIMIT]


def test_each_descriptor_counted_and_any_over_makes_the_call_over(stub):
    fresh_minute()
    # README example 2: the marketing limit (2/day per number) and the per-number limit (4/day).
    both = [[("message_type", "marketing"), ("to_number", "2061111111")], [("to_number", "2061111111")]]
    got = [stub.client.check("main", both) for _ in range(3)]
    assert [codes(r) for r in got] == [[OK, OK], [OK, OK], [OVER_LIMIT, OK]]
    assert got[2].overall_code == OVER_LIMIT
    assert [r.statuses[1].limit_remaining for r in got] == [3, 2, 1]
    # Another number has counters of its own at both levels.
    other = stub.client.check("main", [[("message_type", "marketing"), ("to_number", "2062222222")]])
    assert codes(other) == [OK] and other.statuses[0].limit_remaining == 1


def test_levels_must_match_the_request_depth(stub):
    # README example 4: two entries never take a one-level limit, one entry never a nested one.
    r = stub.client.check("main", [[("generic_key", "five"), ("extra", "x")], [("message_type", "marketing")]])
    assert codes(r) == [OK, OK]
    assert not r.statuses[0].HasField("current_limit") and not r.statuses[1].HasField("current_limit")


def test_key_only_counts_each_value_and_a_value_beats_it(stub):
    fresh_minute()
    a = [stub.client.check("main", [[("remote_address", "10.0.0.1")]]).overall_code for _ in range(4)]
    b = [stub.client.check("main", [[("remote_address", "10.0.0.2")]]).overall_code for _ in range(4)]
    assert a == b == [OK] * 3 + [OVER_LIMIT]
    banned = stub.client.check("main", [[("remote_address", "50.0.0.5")]])
    assert banned.overall_code == OVER_LIMIT and banned.statuses[0].current_limit.requests_per_unit == 0


def test_value_prefix_wildcard_longest_first(stub):
    r1 = stub.client.check("main", [[("path", "/api/users")]])
    assert r1.statuses[0].current_limit.name == "api" and r1.statuses[0].current_limit.unit == HOUR
    # /api/* is counted per full value: another path under it has its own count.
    assert stub.client.check("main", [[("path", "/api/users")]]).overall_code == OVER_LIMIT
    assert stub.client.check("main", [[("path", "/api/orders")]]).overall_code == OK
    v2 = [stub.client.check("main", [[("path", "/api/v2/x")]]) for _ in range(3)]
    assert v2[0].statuses[0].current_limit.requests_per_unit == 2
    assert [r.overall_code for r in v2] == [OK, OK, OVER_LIMIT]
    assert not stub.client.check("main", [[("path", "/other")]]).statuses[0].HasField("current_limit")


def test_unlimited_shadow_and_no_limit(stub):
    fresh_minute()
    for _ in range(3):
        r = stub.client.check("main", [[("ldap", "x")]])
        assert r.overall_code == OK and r.statuses[0].limit_remaining == 2**32 - 1
        assert not r.statuses[0].HasField("current_limit")
    soft = [stub.client.check("main", [[("soft", "u")]]) for _ in range(3)]
    assert [r.overall_code for r in soft] == [OK] * 3
    assert [r.statuses[0].limit_remaining for r in soft] == [0, 0, 0]
    assert soft[2].statuses[0].current_limit.requests_per_unit == 1
    r = stub.client.check("main", [[("nolimit", "x")]])
    assert codes(r) == [OK] and not r.statuses[0].HasField("current_limit")


def test_domains_are_separate_and_unknown_is_ok(stub):
    fresh_minute()
    assert [stub.client.check("other", [[("generic_key", "five")]]).overall_code for _ in range(2)] == \
        [OK, OVER_LIMIT]
    assert stub.client.check("main", [[("generic_key", "five")]]).statuses[0].limit_remaining == 4
    r = stub.client.check("nobody", [[("generic_key", "five")]] * 2)
    assert codes(r) == [OK, OK] and r.overall_code == OK
    assert not r.statuses[0].HasField("current_limit")


def test_hits_addend_and_descriptor_override(stub):
    fresh_minute()
    r = stub.client.check("main", [[("generic_key", "five")]], hits_addend=3)
    assert r.statuses[0].limit_remaining == 2
    assert stub.client.check("main", [[("generic_key", "five")]], hits_addend=3).overall_code == OVER_LIMIT
    # A descriptor's own limit (RateLimitOverride) wins in a known domain.
    ov = {"entries": [("anything", "x")], "limit": (2, SECOND)}
    fresh_second()
    got = [stub.client.check("main", [ov]) for _ in range(3)]
    assert [r.overall_code for r in got] == [OK, OK, OVER_LIMIT]
    assert got[0].statuses[0].current_limit.unit == SECOND


def test_reload_keeps_counters_and_bad_reload_keeps_config(stub):
    fresh_minute()
    for _ in range(2):
        stub.client.check("main", [[("generic_key", "five")]])
        stub.client.check("main", [[("remote_address", "10.9.9.9")]])
    changed = yaml.safe_load(yaml.safe_dump(MAIN))
    changed["descriptors"][0]["rate_limit"]["requests_per_unit"] = 3
    write(stub.path, [changed, OTHER])
    stub.proc.wait_output(r'"event":"ratelimit_reloaded"', stream="stdout")
    # The count (2) carries over to the new limit (3), and the untouched limit keeps its count too.
    r = stub.client.check("main", [[("generic_key", "five")]])
    assert (r.statuses[0].current_limit.requests_per_unit, r.statuses[0].limit_remaining) == (3, 0)
    assert stub.client.check("main", [[("generic_key", "five")]]).overall_code == OVER_LIMIT
    assert stub.client.check("main", [[("remote_address", "10.9.9.9")]]).statuses[0].limit_remaining == 0
    write(stub.path, "domain: main\ndescriptors:\n  - key: a\n    rate_limit: {unit: fortnight}\n")
    stub.proc.wait_output(r'"event":"ratelimit_error".*rate_limit\.unit', stream="stdout")
    assert stub.client.check("main", [[("generic_key", "five")]]).statuses[0].current_limit.requests_per_unit == 3
    # SIGHUP reloads too.
    stub.proc.signal(signal.SIGHUP)
    stub.proc.wait_output(r'"event":"ratelimit_error","file":"[^"]*","trigger":"sighup"', stream="stdout")


def test_delay_is_asynchronous_and_error_knob(procs, tmp_path):
    path = tmp_path / "rl.yaml"
    write(path, [MAIN, {"domain": "slow", "test_delay_ms": 600},
                 {"domain": "broken", "test_error": {"code": "UNAVAILABLE", "message": "down for the test"}}])
    s = Stub(procs, path)
    slow = {}

    def call_slow():
        t0 = time.monotonic()
        slow["resp"] = s.client.check("slow", [[("a", "b")]])
        slow["took"] = time.monotonic() - t0
    th = threading.Thread(target=call_slow)
    th.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    assert s.client.check("main", [[("ldap", "x")]]).overall_code == OK
    fast = time.monotonic() - t0
    th.join(10)
    assert fast < 0.3, "a delayed answer blocked another call for %.3fs" % fast
    assert slow["resp"].overall_code == OK and 0.55 <= slow["took"] < 2.0, slow
    with pytest.raises(grpc.RpcError) as e:
        s.client.check("slow", [[("a", "b")]], timeout=0.15)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(grpc.RpcError) as e:
        s.client.check("broken", [[("a", "b")]])
    assert (e.value.code(), e.value.details()) == (grpc.StatusCode.UNAVAILABLE, "down for the test")
    # A call still waiting when SIGTERM arrives does not hold the exit up.
    th = threading.Thread(target=lambda: pytest.raises(grpc.RpcError, s.client.check, "slow", [[("a", "b")]]))
    th.start()
    time.sleep(0.2)
    s.stop_clean()
    th.join(10)


def test_headers_and_body_knobs(procs, tmp_path):
    path = tmp_path / "rl.yaml"
    write(path, {"domain": "h", "raw_body": "slow down\n",
                 "response_headers_to_add": [{"key": "x-rl-stub", "value": "yes"}],
                 "request_headers_to_add": [{"key": "x-rl-upstream", "value": "tagged"}],
                 "descriptors": [{"key": "k", "rate_limit": {"unit": "minute", "requests_per_unit": 1}}]})
    s = Stub(procs, path)
    fresh_minute()
    ok = s.client.check("h", [[("k", "v")]])
    assert [(h.key, h.value) for h in ok.response_headers_to_add] == [("x-rl-stub", "yes")]
    assert [(h.key, h.value) for h in ok.request_headers_to_add] == [("x-rl-upstream", "tagged")]
    assert ok.raw_body == b""
    over = s.client.check("h", [[("k", "v")]])
    assert over.overall_code == OVER_LIMIT and over.raw_body == b"slow down\n"
    s.stop_clean()


def test_bad_requests_get_grpc_errors_and_the_service_lives_on(stub):
    for payload, want in [(b"\xff\xff\xff", "cannot decode"),
                          (rls_client.request("", [[("a", "b")]]).SerializeToString(), "domain must not be empty"),
                          (rls_client.request("main", []).SerializeToString(), "descriptor list must not be empty")]:
        with pytest.raises(grpc.RpcError) as e:
            stub.client.raw(payload)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and want in e.value.details()
    long_desc = [[("k%d" % i, "v") for i in range(200)]]
    assert codes(stub.client.check("main", long_desc)) == [OK]
    assert stub.client.check("main", [[("ldap", "x")]]).overall_code == OK
    ev = [line for line in stub.proc.stdout().splitlines() if '"ratelimit_call"' in line]
    assert any('"error":"cannot decode the RateLimitRequest"' in line for line in ev)


def test_without_ratelimit_config_the_method_is_unimplemented(procs):
    s = Stub(procs)
    with pytest.raises(grpc.RpcError) as e:
        s.client.check("main", [[("a", "b")]])
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED and "--ratelimit-config" in e.value.details()
    s.stop_clean()


BAD = [
    ("domain: x\ndescriptors:\n  - key: a\n    descriptors:\n      - key: b\n        rate_limit: "
     "{unit: weekly, requests_per_unit: 1}\n",
     "descriptors[0].descriptors[0].rate_limit.unit: expected second, minute, hour or day"),
    ("domain: x\ndescriptors:\n  - key: a\n    rate_limit: {unit: second, requests_per_unit: -1}\n",
     "descriptors[0].rate_limit.requests_per_unit: expected"),
    ("domain: x\ndescriptors:\n  - key: a\n    rate_limits: {unit: second}\n",
     "descriptors[0].rate_limits: unknown field"),
    ("domain: x\ndescriptors:\n  - key: a\n  - key: a\n", "descriptors[1]: duplicate descriptor"),
    ("- domain: x\n- domain: y\n  descriptors:\n    - value: v\n", "[1].descriptors[0]: a descriptor needs a key"),
    ("- domain: x\n- domain: x\n", "[1].domain: duplicate domain"),
    ("domain: x\ndescriptors:\n  - key: a\n    rate_limit: {unlimited: true, unit: second}\n",
     "descriptors[0].rate_limit: an unlimited rate_limit takes no unit"),
    ("domain: x\ndescriptors:\n  - key: a\n    rate_limit: {unit: second, requests_per_unit: 1, replaces: "
     "[{name: z}]}\n", "descriptors[0].rate_limit.replaces: not supported"),
    ("domain: x\ntest_error: {code: OK}\n", "test_error.code: expected a gRPC status name"),
    ("domain: x\ndescriptors: [\n", "line "),
]


@pytest.mark.parametrize("text,want", BAD)
def test_check_rejects_bad_files_with_the_path(tmp_path, text, want):
    import subprocess
    path = tmp_path / "rl.yaml"
    path.write_text(text)
    p = subprocess.run([harness.binary("control-plane-stub"), "--check", BASIC, "--ratelimit-config", str(path)],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and want in p.stderr, p.stderr
    if text.startswith("domain"):
        # Given to --check alone, a rate-limit file is recognised by its `domain`.
        p = subprocess.run([harness.binary("control-plane-stub"), "--check", str(path)], capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 1 and want in p.stderr, p.stderr


def test_check_accepts_a_good_file_and_start_refuses_a_bad_one(procs, tmp_path):
    import subprocess
    path = tmp_path / "rl.yaml"
    write(path, [MAIN, OTHER])
    p = subprocess.run([harness.binary("control-plane-stub"), "--check", str(path)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0 and "ok: 2 rate-limit domains" in p.stdout, p.stderr
    demo = os.path.join(harness.ROOT, "deploy", "examples", "demo-ratelimit.yaml")
    p = subprocess.run([harness.binary("control-plane-stub"), "--check", demo], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0 and "ok: 1 rate-limit domain" in p.stdout, p.stderr
    path.write_text(BAD[0][0])
    proc = procs.start([harness.binary("control-plane-stub"), "--port", str(harness.free_port()), "--snapshot",
                        BASIC, "--ratelimit-config", str(path)], name="stub")
    assert proc.wait(timeout=10) == 1
    assert "rate_limit.unit: expected second" in proc.stderr()
