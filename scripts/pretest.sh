#!/usr/bin/env bash
# `npm test` first installs the interop peers (.ci/install-peers.sh, apt-get) where it can: in CI
# and as root on Debian. Elsewhere it installs nothing, and each suite that needs a missing peer
# is skipped with a line that says which and how to install it (packages/test-peers/src/peers.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = true ] || { [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; }; then
  exec bash .ci/install-peers.sh
fi
echo "pretest: not root on Debian, so the interop peers are not installed; suites that need a missing one are skipped and say which (sudo bash .ci/install-peers.sh on Debian installs them)"
