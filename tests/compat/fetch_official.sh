#!/usr/bin/env bash
# Fetches Envoy's official API protos (the deps/ folders of the npm package
# @grpc/grpc-js-xds, pinned) into build/compat/official. Test-time only: the
# official protos are never committed.
set -euo pipefail
VERSION=1.14.1
out=${1:-build/compat/official}
[ -f "$out/.version-$VERSION-2" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@grpc/grpc-js-xds@$VERSION" >/dev/null 2>&1)
tar -xzf "$tmp"/grpc-grpc-js-xds-$VERSION.tgz -C "$tmp" package/deps
rm -rf "$out"
mkdir -p "$out"
mv "$tmp"/package/deps/* "$out"/
# The validate.proto bundled in the package predates the `ignore_empty` string
# rule that some of its Envoy files use; declare it (PGV's field 26) so protoc
# can compile them. Only validation options are affected, never wire types.
sed -i 's|^message StringRules {|message StringRules {\n    optional bool ignore_empty = 26;|' \
  "$out/protoc-gen-validate/validate/validate.proto"
touch "$out/.version-$VERSION-2"
