#!/usr/bin/env bash
# Unsafe-method flood against samples/ProxyCache with Redis (docs/modes.md, "Unsafe methods"):
# anonymous POSTs to unique ~2 KB URIs that have no entry. Prints Redis used_memory and the proxy's RSS before and
# after, the size of the invalidation records, then starts a second proxy node and checks it serves an L2 hit.
#
#   benchmarks/unsafe-flood.sh [count=5000] [proxy project dir=samples/ProxyCache] [cached]
#
# With "cached", every URI is first fetched (so it has an entry) and then POSTed: the worst case for the records,
# which must then stay within MaximumInvalidationRecords (Redis then also grows by the entries themselves).
#
# /catalog is fetched with the same Host on both nodes (the host is part of the key).
# Needs redis-server, redis-cli, curl, python3. Uses free loopback ports; kills what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-5000}
PROJECT=${2:-samples/ProxyCache}
MODE=${3:-}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; echo "timeout waiting for $1" >&2; exit 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
redis_used() { redis-cli -p "$REDIS_PORT" INFO memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }

REDIS_PORT=$(free_port); UPSTREAM_PORT=$(free_port); PROXY1_PORT=$(free_port); PROXY2_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)

# A trivial upstream: GET is cacheable for an hour, POST answers 204.
cat >"$WORK/upstream.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"hello"
        self.send_response(200)
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" "$UPSTREAM_PORT" &
PIDS+=($!)

dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
DLL=$(find "$PROJECT/bin/Release" -name ProxyCache.dll | head -1)
start_proxy() {
  dotnet "$DLL" --upstream "http://127.0.0.1:$UPSTREAM_PORT" --urls "http://127.0.0.1:$1" --Redis "127.0.0.1:$REDIS_PORT" >"$WORK/proxy-$1.log" 2>&1 &
  PIDS+=($!)
  echo $!
}

PROXY1=$(start_proxy "$PROXY1_PORT"); PIDS+=("$PROXY1")
wait_http "http://127.0.0.1:$PROXY1_PORT/warmup"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY1_PORT/warmup"; done
curl -s -o /dev/null -D - -H "Host: cache.test" "http://127.0.0.1:$PROXY1_PORT/catalog" | grep -i '^cache-status' || true
sleep 1
REDIS_BEFORE=$(redis_used); RSS_BEFORE=$(rss_kb "$PROXY1")

PAD=$(head -c 2000 /dev/zero | tr '\0' 'x')
python3 - "$COUNT" "$PROXY1_PORT" "$PAD" >"$WORK/urls.cfg" <<'PY'
import sys
count, port, pad = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(count):
    print(f'url = "http://127.0.0.1:{port}/items/{i}?pad={pad}"')
    print('output = "/dev/null"')
PY
if [ "$MODE" = cached ]; then
  curl -s -K "$WORK/urls.cfg"
  sleep 1
  REDIS_CACHED=$(redis_used)
  printf 'after the GETs (entries):   Redis %.1f MB\n' "$(echo "$REDIS_CACHED/1048576" | bc -l)"
fi
START=$(date +%s.%N)
curl -s -X POST --data x -K "$WORK/urls.cfg"
END=$(date +%s.%N)
sleep 1
REDIS_AFTER=$(redis_used); RSS_AFTER=$(rss_kb "$PROXY1")
TAGS=$(redis-cli -p "$REDIS_PORT" ZCARD proxy:tags)
TAGS_BYTES=$(redis-cli -p "$REDIS_PORT" MEMORY USAGE proxy:tags)

PROXY2=$(start_proxy "$PROXY2_PORT"); PIDS+=("$PROXY2")
wait_http "http://127.0.0.1:$PROXY2_PORT/warmup"
sleep 1
SECOND=$(curl -s -o /dev/null -D - -H "Host: cache.test" "http://127.0.0.1:$PROXY2_PORT/catalog" | tr -d '\r' | awk -F': ' 'tolower($1)=="cache-status" {print $2}')
RSS2=$(rss_kb "$PROXY2")

printf 'POSTs:                      %s in %.1f s\n' "$COUNT" "$(echo "$END - $START" | bc)"
printf 'Redis used_memory:          %.1f MB -> %.1f MB (+%.1f MB)\n' "$(echo "$REDIS_BEFORE/1048576" | bc -l)" "$(echo "$REDIS_AFTER/1048576" | bc -l)" "$(echo "($REDIS_AFTER-$REDIS_BEFORE)/1048576" | bc -l)"
printf 'proxy:tags:                 %s records, %s bytes\n' "$TAGS" "${TAGS_BYTES:-0}"
printf 'proxy 1 RSS:                %.1f MB -> %.1f MB (+%.1f MB)\n' "$(echo "$RSS_BEFORE/1024" | bc -l)" "$(echo "$RSS_AFTER/1024" | bc -l)" "$(echo "($RSS_AFTER-$RSS_BEFORE)/1024" | bc -l)"
printf 'proxy 2 (started after):    RSS %.1f MB, GET /catalog -> Cache-Status: %s\n' "$(echo "$RSS2/1024" | bc -l)" "$SECOND"
printf 'proxy 2 breaker log lines:  %s\n' "$(grep -ci "breaker" "$WORK/proxy-$PROXY2_PORT.log" || true)"
