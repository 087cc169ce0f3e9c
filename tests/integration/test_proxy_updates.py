"""Config updates under traffic: a route change while a keep-alive client is
connected (the next request follows the new route on the same connection),
a streaming response in flight across route, cluster and listener updates
(it completes), a listener update (new connections get the new config, the
old connection finishes its request), endpoint changes (EDS), a dead
upstream (503 UF), and a clean SIGTERM afterwards."""
import http.client
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


def test_streaming_response_survives_route_cluster_and_listener_updates(procs, tmp_path):
    w = world_for(procs, tmp_path)
    result = []
    t = threading.Thread(target=drip, args=(w, "/drip/25/100", result))  # 25 chunks, 100 ms apart
    t.start()
    time.sleep(0.3)
    route(w, "/prefix/")["route"]["cluster"] = "a"
    w.push("RouteConfiguration")
    w.find("Cluster", "a")["connect_timeout"] = "2s"
    w.push("Cluster")
    hcm = w.find("Listener", "plain")["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["server_name"] = "xdsgate-v2"
    w.push("Listener")
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
