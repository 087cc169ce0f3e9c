#!/usr/bin/env bash
# Installs the Node packages the integration tests' ADS client needs
# (tests/integration/ads_client.js) into BUILD/node, pinned. Idempotent: a
# marker file names the pinned set, so a second run does nothing.
# Usage: node_deps.sh [BUILD_DIR]   (default: build)
set -euo pipefail
GRPC_JS=1.14.7
PROTO_LOADER=0.8.1
PROTOBUFJS=7.5.5
out=${1:-build}/node
marker="$out/.pins-$GRPC_JS-$PROTO_LOADER-$PROTOBUFJS"
[ -f "$marker" ] && exit 0
mkdir -p "$out"
npm install --prefix "$out" --no-audit --no-fund --no-save --loglevel=error \
  "@grpc/grpc-js@$GRPC_JS" "@grpc/proto-loader@$PROTO_LOADER" "protobufjs@$PROTOBUFJS" >&2
touch "$marker"
