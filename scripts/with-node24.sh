#!/bin/sh
# Runs a command with Node 24 first on PATH, installing what a fresh clone lacks:
#   1. Node 24 LTS, from the npm registry into .tools/node24, when the system Node is older;
#   2. the workspace's dependencies (npm ci) when node_modules is missing or older than the lockfile.
# Usage: sh scripts/with-node24.sh <command> [args...]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_MAJOR_WANTED=24

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(major_of node)" -lt "$NODE_MAJOR_WANTED" ]; then
  LOCAL="$ROOT/.tools/node24"
  if [ ! -x "$LOCAL/bin/node" ] || [ "$(major_of "$LOCAL/bin/node")" -lt "$NODE_MAJOR_WANTED" ]; then
    echo "gengap: system Node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_MAJOR_WANTED LTS into .tools/node24" >&2
    # The `node` package links its binary in a preinstall script, which this repository's .npmrc
    # (ignore-scripts, inherited by child npm processes as npm_config_ignore_scripts) would skip:
    # install from outside the repository with scripts explicitly allowed.
    (cd "${TMPDIR:-/tmp}" && npm install --global --prefix "$LOCAL" --ignore-scripts=false \
      --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR_WANTED" >&2)
    if [ ! -x "$LOCAL/bin/node" ]; then
      echo "gengap: could not install Node $NODE_MAJOR_WANTED into $LOCAL" >&2
      exit 1
    fi
  fi
  PATH="$LOCAL/bin:$PATH"
  export PATH
fi

STAMP="$ROOT/node_modules/.gengap-install-stamp"
if [ ! -f "$STAMP" ] || [ "$ROOT/package-lock.json" -nt "$STAMP" ]; then
  echo "gengap: installing dependencies (npm ci)" >&2
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$STAMP"
fi

exec "$@"
