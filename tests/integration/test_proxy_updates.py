"""Config updates under traffic: a route change while a keep-alive client is
connected (the next request follows the new route on the same connection),
a streaming response and a slow chunked request upload in flight across
route, cluster and listener updates (both complete intact), a keep-alive
client across a cluster update, a listener update (new connections get the
new config, the old connection finishes its request), endpoint changes
(EDS), an endpoint removed while a request to it is in flight (it
completes), several keep-alive clients looping while ten route, cluster
and endpoint updates land (no request fails), a dead upstream (503 UF),
and a clean SIGTERM afterwards."""
import hashlib
import re
import http.client
import json
import socket
import threading
import time

import harness
from proxy_env import ProxyWorld, echo, start_upstream
from xds_env import wait_until


def world_for(procs, tmp_path):
    return ProxyWorld(procs, tmp_path)


def route(w, prefix):
    for r in w.vhost()["routes"]:
        if r["match"].get("prefix") == prefix:
            return r
    raise KeyError(prefix)


def get(conn, path, headers=None):
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read(), r


def test_route_update_applies_to_keepalive_connection(procs, tmp_path):
    w = world_for(procs, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    status, body, _ = get(conn, "/prefix/1")
    assert status == 200 and echo(body)["server"] == "b"
    sock = conn.sock
    route(w, "/prefix/")["route"]["cluster"] = "a"
    w.push("RouteConfiguration")
    status, body, _ = get(conn, "/prefix/2")
    assert status == 200 and echo(body)["server"] == "a"
    assert conn.sock is sock  # same connection: RDS updates apply to existing connections
    conn.close()
    w.gate.stop_clean()



def drip(w, path, result):
    """Reads a slow chunked response on its own connection; result gets (status, body length)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=20)
        conn.request("GET", path)
        r = conn.getresponse()
        result.append((r.status, len(r.read())))
        conn.close()
    except Exception as e:  # reported by the assertion in the test
        result.append(("error", repr(e)))


def push_route_cluster_listener(w, cluster):
    """Three updates, each waited for: /prefix/ moves to cluster a, cluster's
    connect_timeout changes, the plain listener's server_name changes."""
    route(w, "/prefix/")["route"]["cluster"] = "a"
    w.push("RouteConfiguration")
    w.find("Cluster", cluster)["connect_timeout"] = "2s"
    w.push("Cluster")
    hcm = w.find("Listener", "plain")["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["server_name"] = "xdsgate-v2"
    w.push("Listener")


def test_streaming_response_survives_route_cluster_and_listener_updates(procs, tmp_path):
    w = world_for(procs, tmp_path)
    result = []
    t = threading.Thread(target=drip, args=(w, "/drip/25/100", result))  # 25 chunks, 100 ms apart
    t.start()
    time.sleep(0.3)
    push_route_cluster_listener(w, "a")
    t.join(30)
    assert result == [(200, 250)]
    # new connections use the new listener configuration
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    status, body, r = get(conn, "/after")
    assert status == 200 and r.getheader("server") == "xdsgate-v2"
    conn.close()
    w.gate.stop_clean()



def test_listener_update_lets_the_keepalive_connection_finish(procs, tmp_path):
    w = world_for(procs, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    assert get(conn, "/one")[0] == 200
    hcm = w.find("Listener", "plain")["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["server_name"] = "xdsgate-v2"
    w.push("Listener")
    # the old connection drains: its next response still comes (with "connection: close"),
    # then it closes; no request fails
    status, body, r = get(conn, "/two")
    assert status == 200 and echo(body)["path"] == "/two"
    assert r.getheader("server") == "xdsgate"
    assert (r.getheader("connection") or "").lower() == "close"
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    assert get(conn, "/three")[2].getheader("server") == "xdsgate-v2"
    conn.close()
    w.gate.stop_clean()



def test_endpoint_update_moves_traffic(procs, tmp_path):
    w = world_for(procs, tmp_path)
    c = start_upstream(procs, "http", "c")
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    assert echo(get(conn, "/prefix/x")[1])["server"] == "b"
    cla = w.find("ClusterLoadAssignment", "b")
    cla["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] = c
    w.push("ClusterLoadAssignment")
    assert echo(get(conn, "/prefix/y")[1])["server"] == "c"
    conn.close()
    w.gate.stop_clean()



def test_eds_update_that_keeps_endpoints_keeps_their_pooled_connections(procs, tmp_path):
    w = world_for(procs, tmp_path)
    w.vhost()["routes"].insert(0, {"match": {"prefix": "/eds-peer"},
                                   "route": {"cluster": "ab", "prefix_rewrite": "/peer"}})
    w.push("RouteConfiguration")
    c = start_upstream(procs, "http", "c")
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)  # one connection: one worker, one pool per host

    def sample(n):
        """{upstream name: set of the proxy's client ports it saw} over n requests."""
        seen = {}
        for _ in range(n):
            d = echo(get(conn, "/eds-peer")[1])
            seen.setdefault(d["server"], set()).add(d["peer"])
        return seen

    before = sample(20)
    assert set(before) == {"a", "b"} and all(len(v) == 1 for v in before.values()), before
    cla = w.find("ClusterLoadAssignment", "ab")
    cla["endpoints"][0]["lb_endpoints"].append(
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": c}}}})
    w.push("ClusterLoadAssignment")
    after = sample(30)
    assert set(after) == {"a", "b", "c"}, after
    # the endpoints that stayed kept their pooled connection: no new connection was opened to them
    assert after["a"] == before["a"] and after["b"] == before["b"], (before, after)
    assert len(after["c"]) == 1
    conn.close()
    w.gate.stop_clean()


def test_dead_upstream_is_503_uf(procs, tmp_path):
    w = world_for(procs, tmp_path)
    status, _, _, _, body = w.curl("/prefix/z")
    assert status == 200
    up_b = [p for p in procs.started if p.name.startswith("up-b")][0]
    up_b.stop()
    status, _, _, _, body = w.curl("/prefix/z")
    assert status == 503 and b"reset reason: connection failure" in body
    w.gate.stop_clean()



def test_sigterm_after_traffic_is_clean(procs, tmp_path):
    w = world_for(procs, tmp_path)
    for i in range(5):
        assert w.curl("/t/%d" % i)[0] == 200
    # an idle keep-alive connection and a request in flight when SIGTERM arrives
    idle = socket.create_connection(("127.0.0.1", w.port))
    idle.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    busy = socket.create_connection(("127.0.0.1", w.port))
    busy.sendall(b"GET /slow/3000 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    w.gate.stop_clean()
    idle.close()
    busy.close()


def upload(w, path, chunks, delay, result):
    """POSTs chunks (bytes) as a chunked body, delay seconds apart, on its own
    connection; result gets (status, upstream's description) or an error."""
    try:
        s = socket.create_connection(("127.0.0.1", w.port), timeout=20)
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  % path.encode())
        for c in chunks:
            s.sendall(b"%x\r\n%s\r\n" % (len(c), c))
            time.sleep(delay)
        s.sendall(b"0\r\n\r\n")
        out = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            out += data
        s.close()
        head, body = out.split(b"\r\n\r\n", 1)
        result.append((int(head.split(b" ")[1]), json.loads(body)))
    except Exception as e:  # reported by the assertion in the test
        result.append(("error", repr(e)))


def test_streaming_upload_survives_route_cluster_and_listener_updates(procs, tmp_path):
    w = world_for(procs, tmp_path)
    chunks = [bytes([65 + i % 26]) * 1000 for i in range(30)]  # 30 KB, 100 ms apart: 3 s in flight
    result = []
    t = threading.Thread(target=upload, args=(w, "/prefix/upload", chunks, 0.1, result))
    t.start()
    time.sleep(0.3)
    push_route_cluster_listener(w, "b")
    t.join(30)
    assert len(result) == 1 and result[0][0] == 200, result
    d = result[0][1]
    # routed when its headers came (to b, before the route moved it), every byte intact
    assert d["server"] == "b" and d["body_len"] == 30000
    assert d["body_sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()
    # a new upload takes the new route
    result = []
    upload(w, "/prefix/after", chunks[:2], 0, result)
    assert result[0][0] == 200 and result[0][1]["server"] == "a"
    w.gate.stop_clean()


def test_keepalive_client_across_a_cluster_update(procs, tmp_path):
    w = world_for(procs, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    status, body, _ = get(conn, "/prefix/1")
    assert status == 200 and echo(body)["server"] == "b"
    sock = conn.sock
    w.find("Cluster", "b")["connect_timeout"] = "3s"
    w.find("Cluster", "a")["connect_timeout"] = "3s"
    w.push("Cluster")
    for i in range(3):
        status, body, _ = get(conn, "/prefix/after/%d" % i)
        assert status == 200 and echo(body)["server"] == "b"
    assert conn.sock is sock  # the same downstream connection throughout
    conn.close()
    w.gate.stop_clean()


def test_endpoint_removed_while_its_request_is_in_flight(procs, tmp_path):
    w = world_for(procs, tmp_path)
    c = start_upstream(procs, "http", "c")
    result = []

    def slow():
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=20)
        status, body, _ = get(conn, "/prefix/1500")
        result.append((status, echo(body)["server"], echo(body)["path"]))
        conn.close()
    route(w, "/prefix/")["route"]["prefix_rewrite"] = "/slow/"  # /prefix/MS: b answers after MS
    w.push("RouteConfiguration")
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)  # the request is at b
    cla = w.find("ClusterLoadAssignment", "b")
    cla["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] = c
    w.push("ClusterLoadAssignment")
    assert echo(w.curl("/prefix/0")[4])["server"] == "c"  # new requests go to the new endpoint
    t.join(30)
    assert result == [(200, "b", "/slow/1500")]  # the removed endpoint's request completed
    w.gate.stop_clean()


def test_no_request_fails_while_ten_updates_land(procs, tmp_path):
    w = world_for(procs, tmp_path)
    stop = threading.Event()
    stats = {"ok": 0, "failed": []}
    lock = threading.Lock()

    def client(n):
        conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
        i = 0
        while not stop.is_set():
            path = ("/prefix/%d/%d" if i % 2 else "/rr/%d/%d") % (n, i)
            try:
                status, body, _ = get(conn, path)
                ok = status == 200 and echo(body)["path"] == path
            except Exception as e:  # counted as a failure
                ok, status = False, repr(e)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
            with lock:
                if ok:
                    stats["ok"] += 1
                else:
                    stats["failed"].append((path, status))
            i += 1
        conn.close()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    c = start_upstream(procs, "http", "c")
    ab = w.find("ClusterLoadAssignment", "ab")["endpoints"][0]["lb_endpoints"]
    ports = [w.up_a, w.up_b, c]
    try:
        for i in range(10):
            kind = ("RouteConfiguration", "Cluster", "ClusterLoadAssignment")[i % 3]
            if kind == "RouteConfiguration":
                route(w, "/prefix/")["route"]["cluster"] = "ab" if (i // 3) % 2 else "a"  # always a change
            elif kind == "Cluster":
                w.find("Cluster", "ab")["connect_timeout"] = "%ds" % (1 + i % 2)
            else:  # rotate which two of the three upstreams serve "ab"
                for j, e in enumerate(ab):
                    e["endpoint"]["address"]["socket_address"]["port_value"] = ports[(i // 3 + 1 + j) % 3]
            w.push(kind)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert stats["failed"] == [] and stats["ok"] > 30, stats
    w.gate.stop_clean()



ACTIVE_LINE = re.compile(r"snapshot generation (\d+) active on all 2 workers ([\d.]+) ms after its xDS response "
                         r"arrived \(([\d.]+) ms after the publish\)")


def test_log_says_when_an_update_is_active_on_every_worker(procs, tmp_path):
    """The info line the benchmark times applies by: one per published snapshot, written by the last worker to
    swap, never before the update serves."""
    w = world_for(procs, tmp_path)
    wait_until(lambda: ACTIVE_LINE.search(w.gate.proc.stderr()), 10, "the first 'active on all' line")
    before = [int(m[0]) for m in ACTIVE_LINE.findall(w.gate.proc.stderr())]
    route(w, "/prefix/")["route"]["cluster"] = "a"
    w.push("RouteConfiguration")
    wait_until(lambda: len(ACTIVE_LINE.findall(w.gate.proc.stderr())) > len(before), 10, "a line for the update")
    assert echo(w.curl("/prefix/x")[-1])["server"] == "a"
    lines = ACTIVE_LINE.findall(w.gate.proc.stderr())
    gens = [int(m[0]) for m in lines]
    assert gens == sorted(set(gens)) and gens[-1] > before[-1], lines
    since_response, since_publish = float(lines[-1][1]), float(lines[-1][2])
    assert 0 <= since_publish <= since_response < 10000, lines[-1]
    assert w.gate.xds()["generation"] == gens[-1], gens
    w.gate.stop_clean()
