#!/usr/bin/env bash
# Builds the base image GenGap's images use when no registry is reachable (CI, air-gapped sites):
# a root filesystem holding only the Node 24 binary this machine runs, the shared libraries that it
# and onnxruntime-node's native library link against (as `ldd` lists them: glibc, libstdc++,
# libgcc_s...), /etc/passwd and /etc/group naming uid/gid 65534 (nobody), /etc/nsswitch.conf and a
# sticky world-writable /tmp, imported with `docker import`. No shell, no package manager.
# Online, the Dockerfile's default base (node:24-bookworm-slim) serves instead.
#
#   deploy/docker/build-base-image.sh [TAG]      TAG defaults to $GENGAP_BASE_IMAGE or gengap/node-base:24
# Environment: NODE_BIN (the node binary to package; default: `node` on PATH, which must be v24).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=${1:-${GENGAP_BASE_IMAGE:-gengap/node-base:24}}
NODE_BIN=$(readlink -f "${NODE_BIN:-$(command -v node)}")

major=$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')
if [ "$major" != 24 ]; then
  echo "build-base-image: $NODE_BIN is Node $("$NODE_BIN" --version); Node 24 is needed (put it first on PATH or set NODE_BIN)" >&2
  exit 1
fi

ROOTFS=$(mktemp -d)
chmod 0755 "$ROOTFS"
trap 'rm -rf "$ROOTFS"' EXIT

install -D -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"

# Every library node and onnxruntime's native code load, at the path the loader looks for it.
libs_of() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'; }
ORT_DIR="$ROOT/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
{
  libs_of "$NODE_BIN"
  if [ -d "$ORT_DIR" ]; then
    for so in "$ORT_DIR"/libonnxruntime.so.1 "$ORT_DIR"/onnxruntime_binding.node; do
      [ -f "$so" ] && libs_of "$so"
    done
  fi
} | grep -v "^$ORT_DIR" | sort -u | while read -r lib; do
  install -D -m 0755 "$(readlink -f "$lib")" "$ROOTFS$lib"
done

mkdir -p "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/var/lib/gengap"
chmod 1777 "$ROOTFS/tmp"
cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo 'hosts: files dns' >"$ROOTFS/etc/nsswitch.conf"

tar --numeric-owner --owner=0 --group=0 -C "$ROOTFS" -c . |
  docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'USER 65534:65534' \
    --change 'CMD ["node"]' \
    --message "GenGap offline base: node $("$NODE_BIN" --version) and its libraries" \
    - "$TAG" >/dev/null

docker run --rm "$TAG" node -e 'if (process.getuid() !== 65534) process.exit(1)'
echo "$TAG: node $("$NODE_BIN" --version), $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
