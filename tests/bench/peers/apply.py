"""run.py's "apply" test: the 10,000-route / 1,000-cluster configuration
(scale.py) applied again and again to running peers under load.

Apply i rewrites the whole configuration: every route answers with a
response header `X-Apply: i` (RouteConfiguration response_headers_to_add;
nginx add_header; HAProxy http-response set-header) and every cluster's
connect timeout alternates between 5 s and 6 s. Then:
  - xdsgate: SIGHUP to control-plane-stub, which re-reads the file and pushes
    CDS and RDS; t0 is the stub's first "response" event. "Active on all
    workers" is xdsgate's own info line ("snapshot generation N active on all
    W workers X ms after its xDS response arrived"): from the arrival of the
    update's first response to the last worker swapped to its last snapshot.
  - nginx: SIGHUP to the master; HAProxy (master-worker, -W): SIGUSR2 to the
    master. t0 is the signal; "all workers" is when every old worker process
    has exited.
For every peer a probe (a new connection per request, so it lands on any
worker) times t0 -> the first response carrying the new X-Apply. Meanwhile wrk
keeps BENCH_CONNS keep-alive connections busy on the same route; what it
counts as socket errors or non-2xx responses over the applies are the failed
requests. Every wait is bounded."""
import calendar
import json
import os
import re
import signal
import socket
import time

HEADER = "X-Apply"
WAIT_S = 30.0  # the longest any one apply may take before it counts as not applied


def timeout_of(i):
    return "6s" if i % 2 else "5s"


# --- the configuration variants, made from scale.py's text ---

def xdsgate_yaml(text, i):
    doc = json.loads(text)
    for r in doc["resources"]:
        if r["@type"].endswith("RouteConfiguration"):
            r["response_headers_to_add"] = [{"header": {"key": HEADER.lower(), "value": str(i)},
                                             "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]
        elif r["@type"].endswith("Cluster"):
            r["connect_timeout"] = timeout_of(i)
    return json.dumps(doc, indent=0)


def nginx_conf(text, i):
    anchor = "    proxy_max_temp_file_size 0;\n"
    if anchor not in text:
        raise RuntimeError("apply: scale.py's nginx config changed shape (no %r)" % anchor.strip())
    return text.replace(anchor, anchor + "    add_header %s %d always;\n    proxy_connect_timeout %s;\n"
                        % (HEADER, i, timeout_of(i)), 1)


def haproxy_cfg(text, i):
    lines = text.split("\n")
    out = []
    for line in lines:
        if line.strip().startswith("timeout connect"):
            line = "    timeout connect %s" % timeout_of(i)
        if line.strip().startswith("use_backend"):
            out.append("    http-response set-header %s %d" % (HEADER, i))
        out.append(line)
    if not any(HEADER in line for line in out):
        raise RuntimeError("apply: scale.py's HAProxy config changed shape (no use_backend line)")
    return "\n".join(out)


# --- observing ---

def probe(port, host, path, timeout=1.0):
    """X-Apply of one response on a new connection; None on any error (a failed probe is retried)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    if not head.startswith("HTTP/1.1 200"):
        return None
    m = re.search(r"^%s:\s*(\S+)" % HEADER, head, re.I | re.M)
    return m.group(1) if m else ""


def wait_probe(port, host, path, want, deadline):
    while time.time() < deadline:
        if probe(port, host, path) == want:
            return time.time()
        time.sleep(0.001)
    return None


def utc_ts(text):
    """'2026-12-07T18:01:02.123456Z' (stub) or '...02.123Z' (xdsgate) -> seconds since the epoch."""
    base, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def stub_events(path, since):
    out = []
    with open(path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if "ts" in e and utc_ts(e["ts"]) >= since:
                e["t"] = utc_ts(e["ts"])
                out.append(e)
    return out


ACTIVE = re.compile(r"^(\S+) info \[[^\]]*\] snapshot generation (\d+) active on all (\d+) workers ([\d.]+) ms "
                    r"after its xDS response arrived")


def xdsgate_active(path, since):
    """(log time, generation, ms after its response arrived) of each 'active on all workers' line since."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = ACTIVE.match(line)
            if m and utc_ts(m.group(1)) >= since - 0.001:  # the log's clock has ms resolution
                out.append((utc_ts(m.group(1)), int(m.group(2)), float(m.group(4))))
    return out


def thread_sched(pid, comm):
    """(ns on a CPU, ns runnable but waiting for one) of pid's thread named comm, from its schedstat:
    what the apply cost in CPU, whatever else the machine runs, and how long it queued for a CPU."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() != comm:
                    continue
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                run, wait = f.read().split()[:2]
            return int(run), int(wait)
        except OSError:
            continue
    return None


# --- one apply per peer kind: returns a dict of figures (times in ms) ---

def apply_xdsgate(p, i, run_dir):
    stub_out = os.path.join(run_dir, p.stub.name + ".out")
    sched0 = thread_sched(p.proc.pid, "xds")
    t0 = time.time()
    p.stub.send_signal(signal.SIGHUP)
    deadline = t0 + WAIT_S
    seen = wait_probe(p.ports["H1"], p.host, p.path, str(i), deadline)
    r = {"signal_t": t0}
    # every response the reload pushed, then one 'active on all workers' line for each
    while time.time() < deadline:
        ev = stub_events(stub_out, t0)
        pushes = [e for e in ev if e.get("event") == "response"]
        acks = [e for e in ev if e.get("event") in ("ack", "nack")]
        active = xdsgate_active(os.path.join(run_dir, p.proc.name + ".err"), t0)
        if pushes and len(acks) >= len(pushes) and len(active) >= len(pushes):
            break
        time.sleep(0.01)
    else:
        r["error"] = "no ACK or no 'active on all workers' line within %.0f s" % WAIT_S
        return r
    sched1 = thread_sched(p.proc.pid, "xds")
    if sched0 and sched1:
        r.update(xds_cpu_ms=(sched1[0] - sched0[0]) / 1e6, xds_wait_ms=(sched1[1] - sched0[1]) / 1e6)
    push = pushes[0]["t"]
    first, last = active[0], active[-1]
    r.update(pushes=len(pushes), nacks=sum(1 for e in acks if e["event"] == "nack"),
             stub_ms=(push - t0) * 1e3, ack_ms=(acks[-1]["t"] - push) * 1e3,
             probe_ms=(seen - push) * 1e3 if seen else None,
             all_ms=(last[0] - first[0]) * 1e3 + first[2], generations=[a[1] for a in active])
    return r


def apply_reload(p, i, sig, children_of):
    """nginx (SIGHUP) and HAProxy master-worker (SIGUSR2): the master keeps its pid, the workers change."""
    master = p.proc.pid
    old = set(children_of(master)) - {master}
    t0 = time.time()
    os.kill(master, sig)
    deadline = t0 + WAIT_S
    seen = wait_probe(p.ports["H1"], p.host, p.path, str(i), deadline)
    gone = None
    while time.time() < deadline:
        if not old & set(children_of(master)):
            gone = time.time()
            break
        time.sleep(0.002)
    p.pids = children_of(master)
    r = {"signal_t": t0, "probe_ms": (seen - t0) * 1e3 if seen else None,
         "all_ms": (gone - t0) * 1e3 if gone else None, "old_workers": len(old)}
    if seen is None or gone is None:
        r["error"] = "new config not served" if seen is None else "old workers still there after %.0f s" % WAIT_S
    return r
