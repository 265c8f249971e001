#!/usr/bin/env bash
# Installs the real third-party peers the interop tests and benchmarks talk to:
#   swaks (SMTP client), dkimpy's dkimverify (python3-dkim), OpenSSL,
#   and Postfix's smtp-source/smtp-sink, unpacked (not installed as a service) into .cache/postfix.
# Idempotent: skips what is already there. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# swaks needs IO::Socket::SSL and Net::SSLeay for STARTTLS and implicit TLS.
debs=(swaks libio-socket-ssl-perl libnet-ssleay-perl python3-dkim openssl ca-certificates dovecot-core python3-argon2 fail2ban nsd python3-spf python3-dnspython pebble postgresql opendkim)
missing=()
for d in "${debs[@]}"; do
  dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d")
done
# Postfix's own shared libraries come in its .deb; these are what its binaries link against.
for d in libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3; do
  dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d")
done
need_postfix=0
[ -x .cache/postfix/usr/sbin/smtp-sink ] || need_postfix=1

if [ ${#missing[@]} -gt 0 ] || [ $need_postfix = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $need_postfix = 1 ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq postfix 2>/dev/null)
  mkdir -p .cache/postfix
  dpkg -x "$tmp"/postfix_*.deb .cache/postfix
  rm -rf "$tmp"
fi
echo "peers: swaks $(swaks --version 2>/dev/null | head -1 | awk '{print $NF}'), dkimverify $(command -v dkimverify), smtp-sink .cache/postfix/usr/sbin/smtp-sink"

# ---- @homing/smtp: Bun, for the test that runs the sans-IO core in another runtime ----
# The npm package of Bun's Linux binary, unpacked into .cache/bun (no download step of its own).
bun=.cache/bun/node_modules/@oven/bun-linux-x64/bin/bun
if [ ! -x "$bun" ]; then
  npm install --prefix .cache/bun --no-save --no-package-lock --no-audit --no-fund @oven/bun-linux-x64@1 >/dev/null
fi
echo "peers: bun $("$bun" --version)"
