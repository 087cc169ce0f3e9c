#!/usr/bin/env bash
# `make demo`: starts the control-plane stub with deploy/snapshots/demo.yaml,
# two demo upstreams and xdsgate, then shows what flows between them. Runs
# until Ctrl-C on a terminal, or DEMO_SECONDS (default 15) otherwise; every
# process it started is stopped by pid on the way out.
set -euo pipefail
B=${1:-build}
XDS_PORT=${XDS_PORT:-18000}
ADMIN_PORT=${ADMIN_PORT:-9901}
LISTEN_PORT=10000
RUN=$(mktemp -d /tmp/xdsgate-demo.XXXXXX)
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

echo "== checking the snapshot"
"$B/control-plane-stub" --check deploy/snapshots/demo.yaml

echo "== starting two demo upstreams on 127.0.0.1:18080 and :18081"
/usr/bin/python3 deploy/demo_upstream.py 18080 upstream-a >"$RUN/upstream-a.log" 2>&1 & pids+=($!)
/usr/bin/python3 deploy/demo_upstream.py 18081 upstream-b >"$RUN/upstream-b.log" 2>&1 & pids+=($!)

echo "== starting the control-plane stub on 127.0.0.1:$XDS_PORT"
"$B/control-plane-stub" --port "$XDS_PORT" --snapshot deploy/snapshots/demo.yaml \
  --log "$RUN/stub.jsonl" 2>"$RUN/stub.err" & pids+=($!)
wait_port "$XDS_PORT"

echo "== starting xdsgate (admin on 127.0.0.1:$ADMIN_PORT)"
"$B/xdsgate" --xds-server "127.0.0.1:$XDS_PORT" --node-id demo --node-cluster demo \
  --admin "127.0.0.1:$ADMIN_PORT" --concurrency 2 2>"$RUN/xdsgate.log" & pids+=($!)
wait_port "$ADMIN_PORT"
wait_port 18080
wait_port 18081

show() {
  echo "-- GET /ready: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/ready")"
  for i in 1 2 3 4; do
    out=$(curl -s --max-time 2 "http://127.0.0.1:$LISTEN_PORT/demo/$i" || true)
    echo "-- GET http://127.0.0.1:$LISTEN_PORT/demo/$i -> ${out:-(no answer: the proxy path is not built yet)}"
  done
  echo "-- stub log (last 5 lines of $RUN/stub.jsonl):"
  tail -n 5 "$RUN/stub.jsonl" 2>/dev/null | sed 's/^/   /'
}

show
if [ -t 0 ] && [ -z "${DEMO_SECONDS:-}" ]; then
  echo "== running; Ctrl-C stops everything"
  while sleep 5; do show; done
else
  sleep "${DEMO_SECONDS:-15}"
  show
fi
