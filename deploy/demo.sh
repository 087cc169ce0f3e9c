#!/usr/bin/env bash
# `make demo`: starts the control-plane stub serving a copy of
# deploy/examples/demo.yaml, two demo upstreams and xdsgate, sends real
# traffic through xdsgate (round robin over the two upstreams), then applies
# a config change live (deploy/examples/demo-v2.yaml written over the served
# copy: a new route, a response header, endpoint weights 3:1) and shows the
# new behaviour. Rate limiting is shown on the way: /local/ is limited by
# xdsgate's local_ratelimit filter (3 a minute), /global/ by the global
# ratelimit filter asking the stub's rate-limit service (5 a minute,
# deploy/examples/demo-ratelimit.yaml). Keeps running until Ctrl-C on a terminal, or for
# DEMO_SECONDS (default 15) otherwise; every process it started is stopped
# by pid on the way out.
set -euo pipefail
B=${1:-build}
XDS_PORT=${XDS_PORT:-18000}
ADMIN_PORT=${ADMIN_PORT:-9901}
LISTEN_PORT=10000
RUN=$(mktemp -d /tmp/xdsgate-demo.XXXXXX)
SNAP="$RUN/snapshot.yaml"
RL="$RUN/ratelimit.yaml"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo: stopped (logs kept in $RUN)"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: nothing listening on 127.0.0.1:$1" >&2
  return 1
}

wait_ready() {
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/ready")" = 200 ] && return 0
    sleep 0.1
  done
  echo "demo: xdsgate did not become ready; see $RUN/xdsgate.log" >&2
  return 1
}

# The snapshot file is replaced in one rename, so the stub never reads half of
# it. The rate-limit cluster names the stub's port (18000 in the file).
install_snapshot() {
  sed "s/port_value: 18000 }/port_value: $XDS_PORT }/" "$1" >"$SNAP.tmp" && mv "$SNAP.tmp" "$SNAP"
}

echo "== checking the snapshots and the rate limits"
"$B/control-plane-stub" --check deploy/examples/demo.yaml
"$B/control-plane-stub" --check deploy/examples/demo-v2.yaml
"$B/control-plane-stub" --check deploy/examples/demo-ratelimit.yaml
install_snapshot deploy/examples/demo.yaml
cp deploy/examples/demo-ratelimit.yaml "$RL"

echo "== starting two demo upstreams on 127.0.0.1:18080 (upstream-a) and :18081 (upstream-b)"
/usr/bin/python3 deploy/demo_upstream.py 18080 upstream-a >"$RUN/upstream-a.log" 2>&1 & pids+=($!)
/usr/bin/python3 deploy/demo_upstream.py 18081 upstream-b >"$RUN/upstream-b.log" 2>&1 & pids+=($!)

echo "== starting the control-plane stub on 127.0.0.1:$XDS_PORT, serving $SNAP"
echo "   (and the rate-limit service, limits from $RL)"
"$B/control-plane-stub" --port "$XDS_PORT" --snapshot "$SNAP" --ratelimit-config "$RL" \
  --log "$RUN/stub.jsonl" 2>"$RUN/stub.err" & pids+=($!)
wait_port "$XDS_PORT"

echo "== starting xdsgate (admin on 127.0.0.1:$ADMIN_PORT, proxy on 127.0.0.1:$LISTEN_PORT)"
"$B/xdsgate" --xds-server "127.0.0.1:$XDS_PORT" --node-id demo --node-cluster demo \
  --admin "127.0.0.1:$ADMIN_PORT" --concurrency 2 ${XDSGATE_ARGS:-} 2>"$RUN/xdsgate.log" & pids+=($!)
wait_port "$ADMIN_PORT"
wait_port 18080
wait_port 18081
wait_ready
wait_port "$LISTEN_PORT"

# One curl, one keep-alive connection: the requests share a worker, so its
# balancer's rotation shows in order.
traffic() {
  local urls=()
  for i in $(seq "$1"); do urls+=("http://127.0.0.1:$LISTEN_PORT$2$i"); done
  echo "\$ curl http://127.0.0.1:$LISTEN_PORT$2{1..$1}   (one keep-alive connection)"
  curl -s --max-time 5 "${urls[@]}" | sed 's/^/   /'
}

show_headers() {
  echo "\$ curl -i http://127.0.0.1:$LISTEN_PORT$1"
  curl -s -i --max-time 5 "http://127.0.0.1:$LISTEN_PORT$1" | tr -d '\r' | sed 's/^/   /'
  echo
}

echo
echo "== traffic through xdsgate: round robin over both upstreams"
echo "-- GET /ready: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/ready")"
traffic 4 /demo/
show_headers /hello
show_headers /demo/headers

# Each request on its own connection: the status line and rate-limit headers.
statuses() {
  echo "\$ for i in \$(seq $1); do curl http://127.0.0.1:$LISTEN_PORT$2; done"
  for _ in $(seq "$1"); do
    curl -s -o /dev/null -D - --max-time 5 "http://127.0.0.1:$LISTEN_PORT$2" | tr -d '\r' |
      awk 'NR == 1 { s = $2 } tolower($1) ~ /^x-(ratelimit-remaining|envoy-ratelimited|local-rate-limit):$/ { h = h " " $0 }
           END { print "   " s h }'
  done
}

echo "== rate limiting"
echo "-- /local/: local_ratelimit, a token bucket of 3 a minute kept by xdsgate (shared by its workers)"
statuses 5 /local/x
echo "-- /global/: the ratelimit filter asks the stub's RLS for (generic_key, global_demo): 5 a minute"
statuses 7 /global/x
echo "-- stub log, the last rate-limit call:"
grep '"event":"ratelimit_call"' "$RUN/stub.jsonl" | tail -n 1 | sed 's/^/   /'
echo

echo "== applying a config change live: $SNAP <- deploy/examples/demo-v2.yaml"
echo "   (a route /hello answered by xdsgate, header x-demo-config: v2, endpoint weights 3:1)"
acks_before=$(grep -c '"event":"ack"' "$RUN/stub.jsonl" || true)
install_snapshot deploy/examples/demo-v2.yaml
for _ in $(seq 100); do
  acks=$(grep -c '"event":"ack"' "$RUN/stub.jsonl" || true)
  [ "$acks" -ge $((acks_before + 2)) ] && break
  sleep 0.1
done
sleep 0.3
echo "-- stub log (last 4 lines of $RUN/stub.jsonl):"
tail -n 4 "$RUN/stub.jsonl" 2>/dev/null | sed 's/^/   /'
echo
echo "== the same requests after the change"
traffic 8 /demo/
show_headers /hello
show_headers /demo/headers

if [ -t 0 ] && [ -z "${DEMO_SECONDS:-}" ]; then
  echo "== running; edit $SNAP to change the config live, Ctrl-C stops everything"
  while sleep 10; do traffic 4 /demo/; done
else
  sleep "${DEMO_SECONDS:-15}"
  traffic 4 /demo/
fi
