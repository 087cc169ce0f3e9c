#!/usr/bin/env bash
# Installs the Debian 12 packages that xdsgate's build, tests and benchmarks
# need. Idempotent: installs only what is missing, runs apt-get update at most
# once, and uses sudo when not root. `deps.sh bench` also installs the peers
# and load generators of make bench's side-by-side run (tests/bench/peers/),
# which make test does not need.
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config libev-dev node-llhttp libnghttp2-dev
  android-libboringssl-dev libssl-dev libgrpc-dev libprotobuf-c-dev
  protobuf-c-compiler protobuf-compiler libprotobuf-dev libre2-dev libyaml-dev
  libxxhash-dev libjansson-dev
  # tests
  python3 python3-pytest python3-yaml python3-protobuf python3-grpcio python3-h2 curl nghttp2-client nghttp2-server
  # the DNS cluster tests' resolver (the binary only, run unprivileged on a high port; no system service)
  dnsmasq-base
  # sanitizers and fuzzing
  clang libclang-rt-14-dev
  # benchmarks
  wrk
)
# the peers (nginx is also the benchmark's origin); h2load is in nghttp2-client above
if [ "${1:-}" = bench ]; then PKGS+=(nginx haproxy openssl util-linux); fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (for the compat test's official protos) comes with Debian's npm package
# unless a Node.js distribution already provides it; the two conflict.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deploy/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
