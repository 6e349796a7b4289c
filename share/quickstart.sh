#!/bin/sh
# Installs the dependencies, builds fault, and runs its main job: a proxy
# adding 200 ms of latency in front of a local HTTP server, with one request
# straight to the server and one through the proxy, to show the added time.
set -e
cd "$(dirname "$0")/.."
sh share/setup-debian.sh
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"

tmp=$(mktemp -d)
trap 'kill $server $proxy 2>/dev/null; rm -rf "$tmp"' EXIT
echo "hello from the upstream" > "$tmp/index.html"
python3 -m http.server 18080 --bind 127.0.0.1 --directory "$tmp" >/dev/null 2>&1 &
server=$!
export FAULT_PLUGIN_PATH="$PWD/plugins/tcp/.libs:$PWD/plugins/latency/.libs"
./core/fault run --proxy 127.0.0.1:19000=127.0.0.1:18080 \
    --with-latency --latency-mean 200 --latency-stddev 10 --tail &
proxy=$!
for _ in $(seq 50); do
  curl -s -o /dev/null http://127.0.0.1:18080/ && curl -s -o /dev/null http://127.0.0.1:19000/ && break
  sleep 0.1
done
echo "direct:        $(curl -s -o /dev/null -w '%{time_total}s' http://127.0.0.1:18080/)"
echo "through fault: $(curl -s -o /dev/null -w '%{time_total}s' http://127.0.0.1:19000/)"
