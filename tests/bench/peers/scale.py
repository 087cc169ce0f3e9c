"""The config-scale variant of the three peers' configurations (run.py's
"scale" test): 100 virtual hosts vhI.bench x 100 prefix routes /rJ/, 10,000
routes in all, over 1,000 clusters that all lead to the origin's small
server, plus a catch-all. Each peer in its own idiom: xdsgate and Envoy's
RouteConfiguration, nginx server blocks and prefix locations, HAProxy a
map_beg lookup on host + path (its prefix tree; 10,000 use_backend rules
would be a linear scan no HAProxy user would write)."""
import json

VHOSTS, ROUTES, CLUSTERS = 100, 100, 1000
# the request the scale runs make: the last route of the last virtual host
HOST, PATH = "vh%d.bench" % (VHOSTS - 1), "/r%d/x" % (ROUTES - 1)


def cluster_of(i, j):
    return "c%d" % ((i * ROUTES + j) % CLUSTERS)


def xdsgate_yaml(h1_port, origin_port, hcm_json):
    """A snapshot (JSON is YAML) with one HTTP/1.1 listener, the routes and the clusters."""
    res = [{"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "h1",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": h1_port}},
            "filter_chains": [{"filters": [json.loads(hcm_json)]}]}]
    vhosts = [{"name": "vh%d" % i, "domains": ["vh%d.bench" % i],
               "routes": [{"match": {"prefix": "/r%d/" % j}, "route": {"cluster": cluster_of(i, j)}}
                          for j in range(ROUTES)]} for i in range(VHOSTS)]
    vhosts.append({"name": "any", "domains": ["*"], "routes": [{"match": {"prefix": "/"},
                                                                 "route": {"cluster": "c0"}}]})
    res.append({"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "bench",
                "virtual_hosts": vhosts})
    for k in range(CLUSTERS):
        res.append({"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c%d" % k,
                    "type": "STATIC", "connect_timeout": "5s",
                    "load_assignment": {"cluster_name": "c%d" % k, "endpoints": [{"lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1",
                                                                     "port_value": origin_port}}}}]}]}})
    return json.dumps({"resources": res}, indent=0)


def nginx_conf(s):
    """s: run.py's substitutions (RUN, USER, WORKERS, NOFILE, CONNS, H1, SMALL)."""
    out = [s["USER"], "worker_processes %s;" % s["WORKERS"], "worker_rlimit_nofile %s;" % s["NOFILE"],
           "pid %s/nginx-scale.pid;" % s["RUN"], "error_log %s/nginx-scale.err warn;" % s["RUN"],
           "events { worker_connections %s; }" % s["CONNS"], "http {", "    access_log off;",
           "    keepalive_requests 10000000;", "    keepalive_timeout 600s;",
           "    proxy_http_version 1.1;", '    proxy_set_header Connection "";',
           "    proxy_max_temp_file_size 0;", "    server_names_hash_bucket_size 64;"]
    for part in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        name = {"body": "client_body", "fcgi": "fastcgi"}.get(part, part)
        out.append("    %s_temp_path %s/tmp/nginx-scale-%s;" % (name, s["RUN"], part))
    for k in range(CLUSTERS):
        out.append("    upstream c%d { server 127.0.0.1:%s; keepalive 16; keepalive_requests 10000000; "
                   "keepalive_timeout 600s; }" % (k, s["SMALL"]))
    out.append("    server { listen 127.0.0.1:%s backlog=4096 reuseport default_server; "
               "location / { proxy_pass http://c0; } }" % s["H1"])
    for i in range(VHOSTS):
        out.append("    server {")
        out.append("        listen 127.0.0.1:%s;" % s["H1"])
        out.append("        server_name vh%d.bench;" % i)
        for j in range(ROUTES):
            out.append("        location /r%d/ { proxy_pass http://%s; }" % (j, cluster_of(i, j)))
        out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"


def haproxy_cfg(s, map_file):
    """The config and, written to map_file, the host+path prefix map."""
    with open(map_file, "w") as f:
        for i in range(VHOSTS):
            for j in range(ROUTES):
                f.write("vh%d.bench/r%d/ %s\n" % (i, j, cluster_of(i, j)))
    out = ["global", "    nbthread %s" % s["WORKERS"], "    maxconn %s" % s["CONNS"], "defaults",
           "    mode http", "    option http-keep-alive", "    http-reuse always", "    timeout connect 5s",
           "    timeout client 600s", "    timeout server 600s", "    timeout http-keep-alive 600s",
           "frontend bench", "    bind 127.0.0.1:%s backlog 4096" % s["H1"],
           "    use_backend %%[base,map_beg(%s,c0)]" % map_file]
    for k in range(CLUSTERS):
        out += ["backend c%d" % k, "    server origin 127.0.0.1:%s" % s["SMALL"]]
    return "\n".join(out) + "\n"
