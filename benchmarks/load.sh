#!/usr/bin/env bash
# End-to-end load test of benchmarks/LoadApp (Release, Kestrel, loopback): cache hits of TieredResponseCaching next to a
# plain endpoint, no cache, and ASP.NET Core Output Caching, in memory and on Redis; GraphQL and gRPC hits next to REST
# hits of the same body size. Driven in alternating rounds by wrk (HTTP/1.1) and h2load (HTTP/2 without TLS, which
# gRPC needs and wrk cannot do). For each run it reads the CPU time of the server process (and of redis-server) from
# /proc/<pid>/stat before and after, and Redis's command count from INFO commandstats, and prints the medians of
# requests/s, CPU microseconds per request and Redis calls per request, with the ratios the targets are stated in.
# See benchmarks/README.md.
#
# Processes: redis-server on a free loopback port (started here, killed at the end), and three LoadApp processes:
#   l1     no Redis                         /raw /origin /outputcache /tiered, GraphQL, gRPC
#   redis  Redis for both caches            /tiered-redis (L1 hits, Redis configured), /outputcache-redis
#   l2     Redis, L1 switched off           /tiered-l2 (every hit read from Redis)
#   compression  UseResponseCompression in front of both caches, variants on: /json20k, /json20k-outputcache
# and, for the proxy endpoints, a LoadApp in mode upstream (the origin) with two samples/ProxyCache processes in front
# of it:
#   proxy      the caching proxy (origin-directed mode, L1 only)
#   proxy-off  the same proxy started with --no-cache: YARP alone
# and the comparison points of a proxy hit (installed from Debian's packages when missing):
#   floor      LoadApp in mode floor: a plain Kestrel endpoint writing the headers and bytes of a proxy hit
#   nginx      nginx proxy_cache in front of the same upstream, as its documentation recommends for a caching proxy:
#              worker_processes = cores (nproc: the cores this run may use), access log off, a cache zone on disk (the hits come from the
#              page cache); its CPU is the master's and the workers'
#   varnish    varnishd with the built-in VCL (-b upstream) and malloc storage; its CPU is the manager's and the
#              cache process's
#
# Endpoints (ENDPOINTS selects; all by default):
#   raw origin outputcache tiered     wrk, GET /raw, /origin, /outputcache, /tiered (1,210-byte JSON)
#   tiered-redis outputcache-redis    wrk, GET on the redis process
#   tiered-l2                         wrk, GET on the l2 process
#   outputcache-redis-keys tiered-l2-keys   the same two over 1,000 URLs (?id=0 ... ?id=999, each its own entry,
#                                     requested in turn): concurrent requests never share a key, so no cache can
#                                     answer several of them with one Redis read (both coalesce reads of one key)
#   tiered-data                       wrk, GET /tiered-data: REST hit with the GraphQL endpoint's exact body
#   graphql-get                       wrk, GET /graphql?query=...&variables=...&operationName=...
#   graphql-post                      wrk + Lua script, POST /graphql with a JSON body
#   h2-tiered                         h2load, GET /tiered over HTTP/2 (the REST hit next to gRPC, same body size)
#   h2-grpc                           h2load, POST /loadtest.Catalog/GetPage, framed request, application/grpc
#   proxy-hit                         wrk, GET /proxy/cached through the caching proxy: the upstream says
#                                     public, max-age=3600, so every request is a hit
#   proxy-yarp                        wrk, the same request through the proxy without the cache: every request
#                                     reaches the upstream (the baseline of the proxy target)
#   proxy-no-store                    wrk, GET /proxy/no-store through the caching proxy: the same body with
#                                     Cache-Control: no-store, so the cache looks up, forwards and refuses to store
#   proxy-floor                       wrk, GET /proxy/cached on floor: the floor of a proxy hit (no proxy, no cache)
#   proxy-hit-inline                  proxy-hit on a proxy started with --inline-scheduling (requests run on the
#                                     socket threads: samples/ProxyCache/README.md, "Inline scheduling")
#   proxy-floor-inline                proxy-floor with the same transport setting (LoadApp --inline-scheduling true)
#   proxy-nginx proxy-varnish         wrk, GET /proxy/cached through nginx and Varnish: their hits of the same response
#   json20k-identity                  wrk, GET /json20k on the compression process (about 20 KB of JSON, UseResponseCompression
#                                     in front of the cache, compressed variants on) without Accept-Encoding: identity hits
#   json20k-br                        the same with Accept-Encoding: br: hits served from the stored Brotli variant
#   outputcache-br                    wrk, GET /json20k-outputcache with Accept-Encoding: br: Output Caching's hit,
#                                     compressed again by UseResponseCompression on every request
#   eager                             wrk + Lua script, GET /eager (2-second lifetime, eager refresh at 0.8) without a
#                                     pause for EAGER_DURATION (10 lifetimes): every answer's Cache-Status is counted;
#                                     after one request that stores the entry, a miss or a stale answer fails the run
#                                     (its req/s pays for the Lua response callback: not comparable with the others)
#
# Settings (environment):
#   ROUNDS=5          rounds; each round runs every endpoint once, in an order that rotates from round to round
#   DURATION=10s      duration of one run (wrk -d, h2load -D)
#   CONNECTIONS=32    connections (wrk -c, h2load -c; h2load with one stream per connection, -m1)
#   THREADS=1         client threads (wrk -t, h2load -t; the machine's other cores are the server's)
#   WARMUP=3s         run per endpoint before measuring (JIT tiering, the cache entries)
#   ENDPOINTS="..."   a subset of the endpoints above
#   EAGER_DURATION=20s  duration of an eager run (10 lifetimes of /eager)
#   SYSCALLS=1        also count, per request, the server's system calls by kind and its context switches (perf
#                     tracepoints, attached to the server's processes during each measured run; needs root and perf,
#                     which it installs). The counts do not depend on the machine's load as times do; the CPU
#                     times of such a run include perf's own cost, so take times from a run without it.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-3s}
EAGER_DURATION=${EAGER_DURATION:-20s}
SYSCALLS=${SYSCALLS:-0}
ALL_ENDPOINTS="raw origin outputcache tiered tiered-redis outputcache-redis tiered-l2 outputcache-redis-keys tiered-l2-keys tiered-data graphql-get graphql-post h2-tiered h2-grpc proxy-hit proxy-yarp proxy-no-store proxy-floor proxy-nginx proxy-varnish proxy-hit-inline proxy-floor-inline json20k-identity json20k-br outputcache-br eager"
read -r -a ENDPOINTS <<<"${ENDPOINTS:-$ALL_ENDPOINTS}"

fail() {
  echo "load.sh: $*" >&2
  exit 1
}

# The GraphQL request: one operation with a variable, sent as GET parameters and as a POST body.
GRAPHQL_QUERY='query Catalog($page: Int!) { catalog(page: $page) { page pageSize total items { id name description price color inStock } } }'
GRAPHQL_VARIABLES='{"page":1}'
urlencode() {
  local text=$1 out="" c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case $c in
      [a-zA-Z0-9.~_-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c" && out+=$c ;;
    esac
  done
  echo "$out"
}

# name -> process, client, path
declare -A SERVER=(
  [raw]=l1 [origin]=l1 [outputcache]=l1 [tiered]=l1 [tiered-redis]=redis [outputcache-redis]=redis [tiered-l2]=l2
  [outputcache-redis-keys]=redis [tiered-l2-keys]=l2
  [tiered-data]=l1 [graphql-get]=l1 [graphql-post]=l1 [h2-tiered]=l1 [h2-grpc]=l1
  [proxy-hit]=proxy [proxy-yarp]=proxy-off [proxy-no-store]=proxy [eager]=l1
  [proxy-floor]=floor [proxy-nginx]=nginx [proxy-varnish]=varnish [proxy-hit-inline]=proxy-inline [proxy-floor-inline]=floor-inline
  [json20k-identity]=compression [json20k-br]=compression [outputcache-br]=compression
)
declare -A TOOL=(
  [raw]=wrk [origin]=wrk [outputcache]=wrk [tiered]=wrk [tiered-redis]=wrk [outputcache-redis]=wrk [tiered-l2]=wrk
  [outputcache-redis-keys]=wrk [tiered-l2-keys]=wrk
  [tiered-data]=wrk [graphql-get]=wrk [graphql-post]=wrk [h2-tiered]=h2load [h2-grpc]=h2load
  [proxy-hit]=wrk [proxy-yarp]=wrk [proxy-no-store]=wrk [eager]=wrk
  [proxy-floor]=wrk [proxy-nginx]=wrk [proxy-varnish]=wrk [proxy-hit-inline]=wrk [proxy-floor-inline]=wrk
  [json20k-identity]=wrk [json20k-br]=wrk [outputcache-br]=wrk
)
declare -A TARGET=(
  [raw]=/raw [origin]=/origin [outputcache]=/outputcache [tiered]=/tiered [tiered-redis]=/tiered-redis
  [outputcache-redis]=/outputcache-redis [tiered-l2]=/tiered-l2 [tiered-data]=/tiered-data
  [outputcache-redis-keys]=/outputcache-redis [tiered-l2-keys]=/tiered-l2
  [graphql-get]="/graphql?query=$(urlencode "$GRAPHQL_QUERY")&variables=$(urlencode "$GRAPHQL_VARIABLES")&operationName=Catalog"
  [graphql-post]=/graphql [h2-tiered]=/tiered [h2-grpc]=/loadtest.Catalog/GetPage
  [proxy-hit]=/proxy/cached [proxy-yarp]=/proxy/cached [proxy-no-store]=/proxy/no-store [eager]=/eager
  [proxy-floor]=/proxy/cached [proxy-nginx]=/proxy/cached [proxy-varnish]=/proxy/cached [proxy-hit-inline]=/proxy/cached
  [proxy-floor-inline]=/proxy/cached
  [json20k-identity]=/json20k [json20k-br]=/json20k [outputcache-br]=/json20k-outputcache
)

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || fail "ROUNDS must be a positive integer (was '$ROUNDS')"
[ "${#ENDPOINTS[@]}" -gt 0 ] || fail "ENDPOINTS is empty"
declare -A NEEDED=()
for ep in "${ENDPOINTS[@]}"; do
  [ -n "${SERVER[$ep]:-}" ] || fail "unknown endpoint '$ep' (known: $ALL_ENDPOINTS)"
  NEEDED[${SERVER[$ep]}]=1
  NEEDED[${TOOL[$ep]}]=1
done
if [ -n "${NEEDED[redis]:-}" ] || [ -n "${NEEDED[l2]:-}" ]; then
  NEEDED[redis-server]=1
fi
if [ -n "${NEEDED[proxy]:-}" ] || [ -n "${NEEDED[proxy-inline]:-}" ] || [ -n "${NEEDED[proxy-off]:-}" ] || [ -n "${NEEDED[nginx]:-}" ] || [ -n "${NEEDED[varnish]:-}" ]; then
  NEEDED[upstream]=1
fi

command -v dotnet >/dev/null 2>&1 || fail "the .NET 10 SDK is required"
command -v curl >/dev/null 2>&1 || fail "curl is required"
install_missing() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || fail "$1 is missing: run as root, or install it with 'apt-get install -y $2'"
  echo "load.sh: installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; } \
    || fail "could not install $2 with apt-get"
}
[ -z "${NEEDED[wrk]:-}" ] || install_missing wrk wrk
# nghttp2-client brings h2load, and nghttp, with which the checks below read HTTP/2 headers and trailers.
[ -z "${NEEDED[h2load]:-}" ] || { install_missing h2load nghttp2-client && install_missing nghttp nghttp2-client; }
[ -z "${NEEDED[redis-server]:-}" ] || { install_missing redis-server redis-server && install_missing redis-cli redis-tools; }
[ -z "${NEEDED[nginx]:-}" ] || install_missing nginx nginx
[ -z "${NEEDED[varnish]:-}" ] || install_missing varnishd varnish
[ "$SYSCALLS" != 1 ] || install_missing perf linux-perf

work=$(mktemp -d)
declare -A PID=() URL=() URL_H2=()
upstream_pid=""
VARNISH_DIR=""
redis_pid=""
redis_port=""
cleanup() {
  local pid
  for pid in "${PID[@]}" $redis_pid $upstream_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work" "${VARNISH_DIR:-}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "load.sh: building benchmarks/LoadApp (Release)"
dotnet build benchmarks/LoadApp -c Release -nologo -v quiet >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build failed"; }
dll=benchmarks/LoadApp/bin/Release/net10.0/LoadApp.dll
[ -f "$dll" ] || fail "$dll not found after the build"
proxy_dll=samples/ProxyCache/bin/Release/net10.0/ProxyCache.dll
if [ -n "${NEEDED[upstream]:-}" ]; then
  echo "load.sh: building samples/ProxyCache (Release)"
  dotnet build samples/ProxyCache -c Release -nologo -v quiet >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build failed"; }
  [ -f "$proxy_dll" ] || fail "$proxy_dll not found after the build"
fi

# A random loopback port nothing listens on (for servers that cannot report a port the kernel chose).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
wait_for_http() { # name url log
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$2/proxy/cached" 2>/dev/null && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || { cat "$3" >&2; fail "$1 exited during start-up"; }
    sleep 0.1
  done
  cat "$3" >&2
  fail "$1 did not answer within 30 s"
}
# nginx as its documentation recommends for a caching proxy (one worker per core; access log off;
# proxy_cache with keep-alive connections to the upstream). Workers run as root here, inside this run's directory.
start_nginx() {
  local port dir="$work/nginx"
  port=$(free_port)
  mkdir -p "$dir/cache" "$dir/temp"
  cat >"$dir/nginx.conf" <<NGINX
user root;
worker_processes $(nproc);
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/temp/body;
  proxy_temp_path $dir/temp/proxy;
  fastcgi_temp_path $dir/temp/fastcgi;
  uwsgi_temp_path $dir/temp/uwsgi;
  scgi_temp_path $dir/temp/scgi;
  proxy_cache_path $dir/cache levels=1:2 keys_zone=trc:10m max_size=256m inactive=60m use_temp_path=off;
  upstream origin { server ${upstream_url#http://}; keepalive 32; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache trc;
      add_header X-Cache-Status \$upstream_cache_status;
    }
  }
}
NGINX
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  PID[nginx]=$!
  URL[nginx]="http://127.0.0.1:$port"
  wait_for_http nginx "${URL[nginx]}" "$dir/error.log"
  echo "load.sh: nginx $(nginx -v 2>&1 | sed 's|.*nginx/||') pid ${PID[nginx]} with $(pgrep -c -P "${PID[nginx]}") workers at ${URL[nginx]}"
}
# Varnish with the built-in VCL in front of the upstream and malloc storage, in the foreground (-F).
start_varnish() {
  local port dir
  port=$(free_port)
  # Varnish's cache process runs as an unprivileged user, which must reach its working directory.
  dir=$(mktemp -d /tmp/trc-varnish-XXXXXX)
  chmod 755 "$dir"
  VARNISH_DIR=$dir
  varnishd -F -n "$dir/n" -a "127.0.0.1:$port" -b "${upstream_url#http://}" -s malloc,256m >"$dir/varnish.log" 2>&1 &
  PID[varnish]=$!
  URL[varnish]="http://127.0.0.1:$port"
  wait_for_http varnish "${URL[varnish]}" "$dir/varnish.log"
  echo "load.sh: varnish $(varnishd -V 2>&1 | sed -n 's/^varnishd (varnish-\([^ ]*\) .*/\1/p') pid ${PID[varnish]} at ${URL[varnish]}"
}

# redis-server cannot report a port the kernel chose, so: a random unused port, and another if that one was taken.
start_redis() {
  local attempt port
  mkdir -p "$work/redis"
  for attempt in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue # in use
    fi
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work/redis" --protected-mode no \
      >"$work/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 100); do
      grep -q 'Ready to accept connections' "$work/redis.log" && { redis_port=$port; return 0; }
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
  done
  cat "$work/redis.log" >&2
  fail "redis-server did not start (attempt $attempt)"
}

start_app() { # mode [arguments]: starts a LoadApp process and waits until it answers
  start_app_as "$1" "$@"
}
start_app_as() { # name mode [arguments]: the same, under another name (one mode with other arguments)
  local name=$1 mode=$2 log="$work/app-$1.log" url=""
  shift 2
  DOTNET_ENVIRONMENT=Production dotnet "$dll" --mode "$mode" "$@" >"$log" 2>&1 &
  PID[$name]=$!
  for _ in $(seq 1 300); do
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$log" >&2; fail "the $name server exited during start-up"; }
    url=$(sed -n 's/^listening-h2: //p' "$log" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log" >&2; fail "the $name server did not report its address within 30 s"; }
  URL_H2[$name]=$url
  URL[$name]=$(sed -n 's/^listening: //p' "$log" | head -n 1)
  echo "load.sh: $name server pid ${PID[$name]} at ${URL[$name]} and ${URL_H2[$name]} (h2c)"
}

# The origin of the proxy endpoints (LoadApp in mode upstream) and the proxies in front of it. The proxies listen on a port
# the kernel picks and report it in ASP.NET Core's "Now listening on:" line.
upstream_url=""
start_upstream() {
  local log="$work/app-upstream.log"
  DOTNET_ENVIRONMENT=Production dotnet "$dll" --mode upstream >"$log" 2>&1 &
  upstream_pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$upstream_pid" 2>/dev/null || { cat "$log" >&2; fail "the upstream exited during start-up"; }
    upstream_url=$(sed -n 's/^listening: //p' "$log" | head -n 1)
    [ -n "$upstream_url" ] && break
    sleep 0.1
  done
  [ -n "$upstream_url" ] || { cat "$log" >&2; fail "the upstream did not report its address within 30 s"; }
  echo "load.sh: upstream pid $upstream_pid at $upstream_url"
}
start_proxy() { # name [arguments]
  local name=$1 log="$work/app-$1.log" url=""
  shift
  DOTNET_ENVIRONMENT=Production dotnet "$proxy_dll" --upstream "$upstream_url" --urls http://127.0.0.1:0 "$@" >"$log" 2>&1 &
  PID[$name]=$!
  for _ in $(seq 1 300); do
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$log" >&2; fail "the $name server exited during start-up"; }
    url=$(sed -n 's/^.*Now listening on: \(http:[^ ]*\).*$/\1/p' "$log" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log" >&2; fail "the $name server did not report its address within 30 s"; }
  URL[$name]=$url
  echo "load.sh: $name server pid ${PID[$name]} at $url (upstream $upstream_url)"
}
upstream_requests() { [ -z "$upstream_url" ] && echo 0 || curl -fsS "$upstream_url/proxy/requests"; }

if [ -n "${NEEDED[redis-server]:-}" ]; then
  start_redis
  echo "load.sh: redis-server pid $redis_pid on 127.0.0.1:$redis_port ($(redis-server --version | awk '{print $3}'))"
fi
[ -z "${NEEDED[l1]:-}" ] || start_app l1 --grpc-request-file "$work/grpc-request.bin"
[ -z "${NEEDED[redis]:-}" ] || start_app redis --redis "127.0.0.1:$redis_port"
[ -z "${NEEDED[l2]:-}" ] || start_app l2 --redis "127.0.0.1:$redis_port"
[ -z "${NEEDED[compression]:-}" ] || start_app compression
[ -z "${NEEDED[upstream]:-}" ] || start_upstream
[ -z "${NEEDED[proxy]:-}" ] || start_proxy proxy
[ -z "${NEEDED[proxy-off]:-}" ] || start_proxy proxy-off --no-cache
[ -z "${NEEDED[proxy-inline]:-}" ] || start_proxy proxy-inline --inline-scheduling
[ -z "${NEEDED[floor]:-}" ] || start_app floor
[ -z "${NEEDED[floor-inline]:-}" ] || start_app_as floor-inline floor --inline-scheduling true
[ -z "${NEEDED[nginx]:-}" ] || start_nginx
[ -z "${NEEDED[varnish]:-}" ] || start_varnish

cat >"$work/graphql-post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"$GRAPHQL_QUERY","variables":$GRAPHQL_VARIABLES,"operationName":"Catalog"}'
EOF
# The requests are formatted once; each call hands out the next one, so the script costs wrk a table lookup.
KEYS=1000
cat >"$work/keys.lua" <<'EOF'
local requests = {}
local count = 0
local next = 0
init = function(args)
  count = tonumber(args[1])
  for i = 0, count - 1 do
    requests[i + 1] = wrk.format(nil, wrk.path .. "?id=" .. i)
  end
end
request = function()
  next = next % count + 1
  return requests[next]
end
EOF
# Eager refresh: counts every answer by its Cache-Status (a fresh hit, one that started an eager refresh, a stale hit,
# anything else: a miss), per thread, and prints the sums.
cat >"$work/eager.lua" <<'EOF'
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) hits = 0; eager = 0; stale = 0; misses = 0 end
response = function(status, headers, body)
  local s = headers["Cache-Status"] or ""
  if s:find("; hit; ttl=-", 1, true) then stale = stale + 1
  elseif s:find("; hit", 1, true) then
    hits = hits + 1
    if s:find("detail=eager-refresh", 1, true) then eager = eager + 1 end
  else misses = misses + 1 end
end
done = function(summary, latency, requests)
  local h, e, st, m = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    h = h + t:get("hits"); e = e + t:get("eager"); st = st + t:get("stale"); m = m + t:get("misses")
  end
  io.write(string.format("eager-check: hits %d, of which started an eager refresh %d; stale %d; misses %d\n", h, e, st, m))
end
EOF

clock_ticks=$(getconf CLK_TCK)
# utime + stime of a process and its children (nginx's workers, Varnish's cache process), in clock ticks (fields 14
# and 15 of /proc/<pid>/stat; the name in field 2 may hold spaces). The children live as long as the run.
# SYSCALLS=1: perf counts tracepoints on every thread of the server and its child processes during one measured run.
SYSCALL_EVENTS="raw_syscalls:sys_enter,context-switches"
SYSCALL_KINDS="read recvfrom recvmsg write writev sendto sendmsg sendfile64 epoll_wait epoll_pwait epoll_pwait2 futex sched_yield io_uring_enter openat pread64 close newfstat newfstatat setsockopt"
for kind in $SYSCALL_KINDS; do SYSCALL_EVENTS="$SYSCALL_EVENTS,syscalls:sys_enter_$kind"; done
perf_pid=""
start_syscall_count() { # server pid
  local pids
  pids=$(echo "$1" $(pgrep -P "$1" || true) | tr ' ' ',')
  perf stat -x, -e "$SYSCALL_EVENTS" -p "$pids" -o "$work/perf.out" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 0.3 # perf attaches to every thread before the run starts
}
stop_syscall_count() { # endpoint requests
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  # One line per endpoint and round: each event's count divided by the requests of the run.
  awk -F, -v n="$2" '$3 != "" && $1 ~ /^[0-9]+$/ { name = $3; sub(/^syscalls:sys_enter_/, "", name); sub(/^raw_syscalls:sys_enter$/, "all", name); printf "%s=%.3f ", name, $1 / n } END { print "" }' \
    "$work/perf.out" >>"$work/$1.syscalls"
}
cpu_ticks() {
  local stat total=0 pid
  kill -0 "$1" 2>/dev/null || fail "process $1 is gone"
  for pid in "$1" $(pgrep -P "$1" || true); do
    stat=$(<"/proc/$pid/stat") || continue
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}
# Commands Redis has executed (INFO's own excluded), and GETs alone.
redis_calls() {
  if [ -z "$redis_port" ]; then
    echo "0 0"
    return
  fi
  redis-cli -p "$redis_port" info commandstats | tr -d '\r' \
    | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { all += $3 } $1 == "cmdstat_get" { get = $3 } END { print all + 0, get + 0 }'
}

# A wrk or h2load duration ("395.12us", "1.20ms", "2.01s") in microseconds.
microseconds() { awk -v t="$1" 'BEGIN { n = t + 0; if (t ~ /us$/) f = 1; else if (t ~ /ms$/) f = 1000; else if (t ~ /s$/) f = 1e6; else f = 0; printf "%.0f", n * f }'; }

# Runs the client on an endpoint; prints "requests req/s mean-latency-µs"; fails on socket errors, non-2xx answers or bodies of the wrong size.
run_load() { # endpoint duration
  local ep=$1 duration=$2 out server=${SERVER[$1]} requests rps latency
  case ${TOOL[$ep]} in
    wrk)
      local script=()
      [ "$ep" != graphql-post ] || script=(-s "$work/graphql-post.lua")
      if [ "$ep" = eager ]; then
        # The run starts with a stored entry (this request may be the miss of an entry that expired since the last run).
        curl -fsS -o /dev/null "${URL[$server]}${TARGET[$ep]}" || fail "$ep does not answer"
        script=(-s "$work/eager.lua")
      fi
      [[ "$ep" != *-keys ]] || script=(-s "$work/keys.lua")
      local args=() headers=()
      [[ "$ep" != *-keys ]] || args=(-- "$KEYS")
      [[ "$ep" != *-br ]] || headers=(-H 'Accept-Encoding: br')
      out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" "${headers[@]}" "${script[@]}" "${URL[$server]}${TARGET[$ep]}" "${args[@]}") || fail "wrk failed on $ep"
      if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
        echo "$out" >&2
        fail "$ep had errors under load"
      fi
      if [ "$ep" = eager ]; then
        local check
        check=$(grep '^eager-check:' <<<"$out") || { echo "$out" >&2; fail "$ep: the Lua script reported nothing"; }
        echo "$duration: ${check#eager-check: }" >>"$work/eager.checks"
        grep -q 'stale 0; misses 0$' <<<"$check" || { echo "$out" >&2; fail "$ep was served stale or missed while hit continuously: $check"; }
      fi
      requests=$(awk '/ requests in / { print $1 }' <<<"$out")
      rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
      latency=$(microseconds "$(awk '$1 == "Latency" { print $2 }' <<<"$out")")
      ;;
    h2load)
      local extra=()
      [ "$ep" != h2-grpc ] || extra=(-d "$work/grpc-request.bin" -H 'content-type: application/grpc' -H 'te: trailers')
      out=$(h2load -t"$THREADS" -c"$CONNECTIONS" -m1 -D "$duration" "${extra[@]}" "${URL_H2[$server]}${TARGET[$ep]}" 2>&1) || { echo "$out" >&2; fail "h2load failed on $ep"; }
      # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"
      requests=$(awk '/^requests:/ { print $8 }' <<<"$out")
      local bad data
      bad=$(awk '/^requests:/ { print $10 + $12 + $14 }' <<<"$out")
      data=$(sed -n 's/^traffic:.* (\([0-9]*\)) data$/\1/p' <<<"$out")
      if [ "$bad" != 0 ] || [ "$(awk '/^status codes:/ { print $3 }' <<<"$out")" != "$requests" ]; then
        echo "$out" >&2
        fail "$ep had failed, errored, timed-out or non-2xx requests under load"
      fi
      # Every request carried the whole body: DATA bytes = requests × body size (plus what arrived for requests cut
      # off by the end of the run).
      local size=${BODY_SIZE[$ep]}
      if [ -z "$data" ] || [ "$data" -lt $((requests * size)) ] || [ "$data" -ge $(((requests + CONNECTIONS) * size)) ]; then
        echo "$out" >&2
        fail "$ep: ${data:-no} DATA bytes for $requests requests of $size bytes"
      fi
      rps=$(awk '/^finished in/ { print $4 }' <<<"$out")
      # "time for request:  min  max  mean  sd  +/- sd"
      latency=$(microseconds "$(awk '/^time for request:/ { print $6 }' <<<"$out")")
      ;;
  esac
  [ -n "$requests" ] && [ "$requests" -gt 0 ] || fail "could not read the request count of $ep"
  echo "$requests $rps $latency"
}

# One request with curl (HTTP/1.1) or nghttp (HTTP/2): headers to $2, body to $3.
fetch() { # endpoint headers-file body-file
  local ep=$1 server=${SERVER[$1]}
  case $ep in
    graphql-post)
      curl -fsS -D "$2" -o "$3" -H 'Content-Type: application/json' \
        --data "{\"query\":\"$GRAPHQL_QUERY\",\"variables\":$GRAPHQL_VARIABLES,\"operationName\":\"Catalog\"}" "${URL[$server]}${TARGET[$ep]}" ;;
    h2-grpc)
      nghttp -v -d "$work/grpc-request.bin" -H ':method: POST' -H 'content-type: application/grpc' -H 'te: trailers' \
        "${URL_H2[$server]}${TARGET[$ep]}" >"$work/nghttp.out" 2>&1 || { cat "$work/nghttp.out" >&2; fail "$ep: nghttp failed"; }
      grep -a ' recv (stream_id=' "$work/nghttp.out" | sed 's/^.* recv (stream_id=[0-9]*) //' >"$2"
      grep -a -o 'recv DATA frame <length=[0-9]*' "$work/nghttp.out" | sed 's/.*=//' | awk '{ s += $1 } END { print s + 0 }' >"$3.length" ;;
    *-keys)
      curl -fsS -D "$2" -o "$3" "${URL[$server]}${TARGET[$ep]}?id=7" ;;
    *-br)
      # The bytes as sent (curl decodes only with --compressed).
      curl -fsS -D "$2" -o "$3" -H 'Accept-Encoding: br' "${URL[$server]}${TARGET[$ep]}" ;;
    h2-*)
      nghttp "${URL_H2[$server]}${TARGET[$ep]}" >"$3" 2>"$work/nghttp.err" || { cat "$work/nghttp.err" >&2; fail "$ep: nghttp failed"; }
      nghttp -v "${URL_H2[$server]}${TARGET[$ep]}" 2>&1 | grep -a ' recv (stream_id=' | sed 's/^.* recv (stream_id=[0-9]*) //' >"$2" ;;
    *)
      curl -fsS -D "$2" -o "$3" "${URL[$server]}${TARGET[$ep]}" ;;
  esac
}

per_request() { # clock-ticks requests -> µs per request
  awk -v t="$1" -v hz="$clock_ticks" -v n="$2" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }'
}

echo "load.sh: warming each endpoint for $WARMUP"
declare -A BODY_SIZE=()
for ep in "${ENDPOINTS[@]}"; do
  fetch "$ep" "$work/$ep.headers" "$work/$ep.body" || fail "$ep does not answer"
  if [ -f "$work/$ep.body.length" ]; then
    BODY_SIZE[$ep]=$(<"$work/$ep.body.length")
  else
    BODY_SIZE[$ep]=$(stat -c %s "$work/$ep.body")
  fi
  run_load "$ep" "$WARMUP" >/dev/null
done

# Honesty checks. Same bytes within each group; the cached endpoints answer from their caches; the Redis-backed
# hits really read Redis (and /tiered-redis does not); gRPC succeeds.
same_body() { # endpoints...
  local first="" ep
  for ep in "$@"; do
    [ -f "$work/$ep.body" ] || continue
    if [ -z "$first" ]; then first=$ep; continue; fi
    cmp -s "$work/$first.body" "$work/$ep.body" || fail "$ep and $first send different bodies"
  done
}
same_body raw origin outputcache tiered tiered-redis outputcache-redis tiered-l2 outputcache-redis-keys tiered-l2-keys h2-tiered
same_body tiered-data graphql-get graphql-post
same_body proxy-hit proxy-yarp proxy-no-store proxy-floor proxy-nginx proxy-varnish proxy-hit-inline proxy-floor-inline
# The floor writes what a proxy hit writes: the same header names (the values are constants, Date's aside).
names() { tr -d '\r' <"$1" | sed -n 's/^\([A-Za-z-]*\):.*/\L\1/p' | sort; }
if [ -f "$work/proxy-hit.headers" ] && [ -f "$work/proxy-floor.headers" ]; then
  fetch proxy-hit "$work/proxy-hit.headers" "$work/check.body" # a hit now (the first request was the miss)
  [ "$(names "$work/proxy-hit.headers")" = "$(names "$work/proxy-floor.headers")" ] \
    || fail "the floor's header names differ from a proxy hit's: $(diff <(names "$work/proxy-hit.headers") <(names "$work/proxy-floor.headers") | tr '\n' ' ')"
fi
if [ -n "${BODY_SIZE[h2-grpc]:-}" ] && [ -n "${BODY_SIZE[h2-tiered]:-}" ] && [ "${BODY_SIZE[h2-grpc]}" != "${BODY_SIZE[h2-tiered]}" ]; then
  fail "the gRPC response body (${BODY_SIZE[h2-grpc]} bytes framed) is not the size of the REST one (${BODY_SIZE[h2-tiered]})"
fi
for ep in "${ENDPOINTS[@]}"; do
  fetch "$ep" "$work/check.headers" "$work/check.body"
  headers=$(tr -d '\r' <"$work/check.headers")
  case "$ep" in
    outputcache*) grep -qi '^age:' <<<"$headers" || fail "$ep is not served from the output cache: $headers" ;;
    raw | origin) ;;
    proxy-yarp) ! grep -qi '^cache-status:' <<<"$headers" || fail "$ep went through a cache: $headers" ;;
    proxy-no-store) grep -qi '^cache-status: .*fwd=uri-miss.*detail=response-no-store' <<<"$headers" || fail "$ep is not forwarded uncached: $headers" ;;
    proxy-nginx) grep -qi '^x-cache-status: HIT' <<<"$headers" || fail "$ep is not an nginx cache hit: $headers" ;;
    proxy-varnish) grep -qiE '^x-varnish: [0-9]+ [0-9]+' <<<"$headers" || fail "$ep is not a Varnish cache hit: $headers" ;;
    *) grep -qi '^cache-status: .*; hit' <<<"$headers" || fail "$ep is not a cache hit: $headers" ;;
  esac
  if [ "$ep" = h2-grpc ]; then
    grep -qi '^grpc-status: 0' <<<"$headers" || fail "$ep did not succeed: $headers"
  fi
  if [[ "$ep" = *-br ]]; then
    grep -qi '^content-encoding: br' <<<"$headers" || fail "$ep is not Brotli-encoded: $headers"
    [ "$(stat -c %s "$work/check.body")" -lt "${BODY_SIZE[json20k-identity]:-1000000}" ] || fail "$ep is not smaller than the identity body"
  fi
  case "$ep" in
    tiered-l2* | outputcache-redis* | tiered-redis)
      read -r _ gets_before <<<"$(redis_calls)"
      for _ in $(seq 1 20); do fetch "$ep" "$work/check.headers" "$work/check.body"; done
      read -r _ gets_after <<<"$(redis_calls)"
      gets=$((gets_after - gets_before))
      if [ "$ep" = tiered-redis ]; then
        [ "$gets" -eq 0 ] || fail "$ep read Redis $gets times in 20 hits: L1 hits must not touch Redis"
      else
        [ "$gets" -ge 20 ] || fail "$ep read Redis only $gets times in 20 hits: each hit must come from Redis"
      fi
      echo "load.sh: check: 20 sequential hits of $ep issued $gets Redis GETs"
      ;;
    proxy-*)
      answered_before=$(upstream_requests)
      for _ in $(seq 1 20); do fetch "$ep" "$work/check.headers" "$work/check.body"; done
      answered=$(($(upstream_requests) - answered_before))
      if [ "$ep" = proxy-yarp ] || [ "$ep" = proxy-no-store ]; then
        [ "$answered" -eq 20 ] || fail "$ep reached the upstream $answered times in 20 requests: each must"
      else
        [ "$answered" -eq 0 ] || fail "$ep reached the upstream $answered times in 20 requests: hits must not"
      fi
      echo "load.sh: check: 20 sequential requests of $ep reached the upstream $answered times"
      ;;
  esac
done
echo "load.sh: checks passed: bodies identical per group (JSON ${BODY_SIZE[raw]:-${BODY_SIZE[tiered]:-${BODY_SIZE[proxy-hit]:-?}}} bytes, GraphQL ${BODY_SIZE[tiered-data]:-?} bytes, gRPC ${BODY_SIZE[h2-grpc]:-?} bytes framed), cache hits, Redis reads and upstream requests as expected"

load_before=$(uptime | sed 's/.*load average: //')
echo "load.sh: $ROUNDS rounds x ${#ENDPOINTS[@]} endpoints, -t$THREADS -c$CONNECTIONS for $DURATION each (h2load -m1); $(nproc) cores; load average before: $load_before"
[[ " ${ENDPOINTS[*]} " != *" eager "* ]] || echo "load.sh: eager runs last $EAGER_DURATION (10 lifetimes of /eager), not $DURATION"
printf '%-6s %-22s %10s %11s %11s %11s %11s %11s\n' round endpoint requests req/s cpu-us/req redis-us/req redis/req upstream-us
count=${#ENDPOINTS[@]}
for round in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((count - 1))); do
    ep=${ENDPOINTS[$(((i + round - 1) % count))]}
    pid=${PID[${SERVER[$ep]}]}
    before=$(cpu_ticks "$pid")
    redis_before=0
    [ -z "$redis_pid" ] || redis_before=$(cpu_ticks "$redis_pid")
    read -r calls_before _ <<<"$(redis_calls)"
    upstream_before=0
    [ -z "$upstream_pid" ] || upstream_before=$(cpu_ticks "$upstream_pid")
    duration=$DURATION
    [ "$ep" != eager ] || duration=$EAGER_DURATION
    [ "$SYSCALLS" != 1 ] || start_syscall_count "$pid"
    read -r requests rps latency <<<"$(run_load "$ep" "$duration")"
    [ "$SYSCALLS" != 1 ] || stop_syscall_count "$ep" "$requests"
    upstream_after=0
    [ -z "$upstream_pid" ] || upstream_after=$(cpu_ticks "$upstream_pid")
    after=$(cpu_ticks "$pid")
    redis_after=0
    [ -z "$redis_pid" ] || redis_after=$(cpu_ticks "$redis_pid")
    read -r calls_after _ <<<"$(redis_calls)"
    cpu=$(per_request $((after - before)) "$requests")
    redis_cpu=$(per_request $((redis_after - redis_before)) "$requests")
    upstream_cpu=$(per_request $((upstream_after - upstream_before)) "$requests")
    # INFO itself is not counted; the backplanes' periodic tag sync (every 30 s) is, and is negligible.
    redis_per=$(awk -v c=$((calls_after - calls_before)) -v n="$requests" 'BEGIN { printf "%.2f", c / n }')
    echo "$rps" >>"$work/$ep.rps"
    echo "$cpu" >>"$work/$ep.cpu"
    echo "$redis_cpu" >>"$work/$ep.rcpu"
    echo "$redis_per" >>"$work/$ep.rcalls"
    echo "$upstream_cpu" >>"$work/$ep.ucpu"
    echo "$latency" >>"$work/$ep.latency"
    printf '%-6s %-22s %10s %11s %11s %11s %11s %11s\n' "$round" "$ep" "$requests" "$rps" "$cpu" "$redis_cpu" "$redis_per" "$upstream_cpu"
  done
done
load_after=$(uptime | sed 's/.*load average: //')

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s – %s", lo, hi }'; }
declare -A rps_median cpu_median
echo
echo "Medians of $ROUNDS alternating rounds (-t$THREADS -c$CONNECTIONS, $DURATION each; $(nproc) cores; load average before: $load_before; after: $load_after)"
printf '| %-22s | %-6s | %10s | %17s | %17s | %13s | %20s | %16s | %-17s |\n' endpoint client req/s "server CPU µs/req" "redis CPU µs/req" "redis cmd/req" "upstream CPU µs/req" "mean latency µs" "req/s per round"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "--------" "-----------:" "------------------:" "------------------:" "--------------:" "---------------------:" "-----------------:" "-------------------"
for ep in "${ENDPOINTS[@]}"; do
  rps_median[$ep]=$(median "$work/$ep.rps")
  cpu_median[$ep]=$(median "$work/$ep.cpu")
  printf '| %-22s | %-6s | %10s | %17s | %17s | %13s | %20s | %16s | %-17s |\n' "$ep" "${TOOL[$ep]}" "${rps_median[$ep]}" "${cpu_median[$ep]}" \
    "$(median "$work/$ep.rcpu")" "$(median "$work/$ep.rcalls")" "$(median "$work/$ep.ucpu")" "$(median "$work/$ep.latency")" "$(range "$work/$ep.rps")"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
compare() { # a b what target
  [ -n "${rps_median[$1]:-}" ] && [ -n "${rps_median[$2]:-}" ] || return 0
  printf '%-46s req/s %s   CPU/req %s   %s\n' "$1 ÷ $2" "$(ratio "${rps_median[$1]}" "${rps_median[$2]}")" \
    "$(ratio "${cpu_median[$1]}" "${cpu_median[$2]}")" "$3"
}
echo
echo "Ratios of the medians (req/s: higher is better for the first; CPU/req: lower is better)"
compare tiered raw "(targets: req/s ≥ 0.95, CPU ≤ 1.10)"
compare tiered outputcache "(target: req/s ≥ 1.10)"
compare tiered-l2 outputcache-redis "(target: req/s ≥ 1.3)"
compare tiered-l2-keys outputcache-redis-keys "(target: req/s ≥ 1.3)"
compare tiered-redis tiered "(target: req/s within 5 %, ≥ 0.95)"
compare graphql-get tiered-data "(target: req/s ≥ 0.9)"
compare graphql-post tiered-data "(target: req/s ≥ 0.9)"
compare h2-grpc h2-tiered "(gRPC hit next to the REST hit over HTTP/2)"
compare proxy-hit proxy-yarp "(target: req/s ≥ 3; the baseline's CPU excludes the upstream's)"
compare proxy-no-store proxy-yarp "(the caching proxy on a response it may not store)"
compare proxy-hit proxy-floor "(target: CPU ≤ 1.05)"
compare proxy-hit proxy-nginx "(target: CPU ≤ 1.00)"
compare proxy-hit proxy-varnish "(Varnish 7.1, built-in VCL, malloc storage)"
compare proxy-hit-inline proxy-floor-inline "(both with inline scheduling; target: CPU ≤ 1.05)"
compare proxy-hit-inline proxy-nginx "(inline scheduling; target: CPU ≤ 1.00)"
compare proxy-hit-inline proxy-hit "(what inline scheduling saves on a hit)"
compare json20k-br json20k-identity "(target: CPU ≤ 1.15)"
compare json20k-br outputcache-br "(target: req/s ≥ 2)"
if [ "$SYSCALLS" = 1 ]; then
  echo
  echo "System calls and context switches per request (medians of the rounds; recv = read + recvfrom + recvmsg, send = write + writev + sendto + sendmsg + sendfile64, epoll = epoll_wait + epoll_pwait + epoll_pwait2, file = openat + pread64 + close + newfstat + newfstatat, yield = sched_yield (idle thread-pool workers spinning), other = the rest)"
  printf '| %-22s | %9s | %8s | %8s | %8s | %8s | %8s | %8s | %10s | %8s | %16s |\n' endpoint syscalls recv send epoll futex yield file io_uring other "context switches"
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "----------:" "---------:" "---------:" "---------:" "---------:" "---------:" "---------:" "-----------:" "---------:" "-----------------:"
  for ep in "${ENDPOINTS[@]}"; do
    [ -f "$work/$ep.syscalls" ] || continue
    for col in all recv send epoll futex sched_yield file io_uring_enter other context-switches; do
      awk -v col="$col" 'function kind(k) {
          if (k == "read" || k == "recvfrom" || k == "recvmsg") return "recv"
          if (k == "write" || k == "writev" || k == "sendto" || k == "sendmsg" || k == "sendfile64") return "send"
          if (k ~ /^epoll_/) return "epoll"
          if (k == "openat" || k == "pread64" || k == "close" || k == "newfstat" || k == "newfstatat") return "file"
          return k }
        { s = 0; listed = 0; all = 0
          for (i = 1; i <= NF; i++) { split($i, kv, "="); k = kind(kv[1])
            if (k == "all") all = kv[2]; else if (k != "context-switches") listed += kv[2]
            if (k == col) s += kv[2] }
          print (col == "other" ? all - listed : s) }' "$work/$ep.syscalls" >"$work/$ep.sc.$col"
    done
    printf '| %-22s | %9s | %8s | %8s | %8s | %8s | %8s | %8s | %10s | %8s | %16s |\n' "$ep" "$(median "$work/$ep.sc.all")" "$(median "$work/$ep.sc.recv")" \
      "$(median "$work/$ep.sc.send")" "$(median "$work/$ep.sc.epoll")" "$(median "$work/$ep.sc.futex")" "$(median "$work/$ep.sc.sched_yield")" "$(median "$work/$ep.sc.file")" \
      "$(median "$work/$ep.sc.io_uring_enter")" "$(median "$work/$ep.sc.other")" "$(median "$work/$ep.sc.context-switches")"
  done
fi
if [ -f "$work/eager.checks" ]; then
  echo
  echo "Eager refresh (/eager: 2-second lifetime, refreshed past 0.8; each run after one request that stores the entry):"
  sed 's/^/  /' "$work/eager.checks"
fi
