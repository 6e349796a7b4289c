#!/bin/sh
# Installs what building and testing fault needs on Debian 12 (as root).
set -e
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential autoconf automake libtool pkg-config
  libuv1-dev libssl-dev libnghttp2-dev libyaml-dev libcjson-dev libcurl4-openssl-dev
  libpcre2-dev libbpf-dev libgrpc-dev protobuf-c-compiler libprotobuf-c-dev node-llhttp
  clang libclang-rt-14-dev bpftool
  curl nghttp2-client nginx-light haproxy wrk openssl python3 python3-grpcio python3-grpc-tools python3-h2
  xxd procps iproute2 debhelper lintian man-db valgrind libxml2-utils chromium
  postgresql postgresql-client python3-psycopg2 python3-psycopg
  dnsmasq dnsutils dnsperf"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node and npm run the official LLM clients of plugins/llm/tests (then
# `npm ci --prefix plugins/llm/tests`); a node already installed (e.g.
# NodeSource's, which bundles npm) is kept.
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi
# The packaged nginx starts a system-wide server on port 80; tests run their
# own instances on free loopback ports and do not need it.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
# Likewise dnsmasq, which would take port 53: the dns-proxy tests start
# their own on a free loopback port.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now dnsmasq >/dev/null 2>&1 || true; fi
# The official npm clients the tests drive (node-postgres; the openai,
# Anthropic, Google GenAI and ollama SDKs), at the versions their lockfiles
# pin. Tests that need them skip (status 77) without them.
top=$(cd "$(dirname "$0")/.." && pwd)
for d in plugins/postgres/tests/node plugins/llm/tests; do
  if [ -f "$top/$d/package-lock.json" ] && [ ! -d "$top/$d/node_modules" ]; then
    npm ci --prefix "$top/$d" --no-audit --no-fund --loglevel=error
  fi
done
