#!/bin/sh
# Regenerates libs/proto from proto/: TypeScript with ts-proto (buf.gen.yaml) and the descriptor set that
# server reflection serves. Never edit libs/proto/src/gen by hand.
set -eu
cd "$(dirname "$0")/.."
npx buf lint
npx buf generate
mkdir -p libs/proto/descriptor
npx buf build --as-file-descriptor-set -o libs/proto/descriptor/gengap.binpb
# The engine's ONNX messages, from the vendored ONNX schema (its own buf module, not linted with STANDARD).
npx buf generate --template buf.gen.onnx.yaml
# Python stubs (clients/python), when Debian's protoc and grpc_python_plugin are installed.
if command -v protoc >/dev/null 2>&1 && { command -v grpc_python_plugin >/dev/null 2>&1 || [ -x /usr/bin/grpc_python_plugin ]; }; then
  bash clients/python/generate.sh
else
  echo "proto-gen: protoc or grpc_python_plugin missing; Python stubs not regenerated" >&2
fi
