#!/usr/bin/env bash
# Installs the npm packages of the instrumentation end-to-end tests (test/e2e/instrumentation/node)
# from their committed package-lock.json with `npm ci`. Idempotent and quick when done: a stamp
# in node_modules records the lockfile it was installed from, so nothing runs until it changes.
set -euo pipefail
cd "$(dirname "$0")/../test/e2e/instrumentation/node"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "install-npm: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
}
stamp=node_modules/.amas-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-npm: test/e2e/instrumentation/node already installed"
  exit 0
fi
echo "install-npm: npm ci in test/e2e/instrumentation/node (node $(node -v))"
# --ignore-scripts: no package here needs an install script to run (protobufjs' only prints a
# notice); it keeps the install from running code at install time.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
echo "$want" > "$stamp"
