#!/usr/bin/env bash
# End-to-end load test: the same ~1.2 KB JSON from /raw, /origin, /outputcache and /tiered of benchmarks/LoadApp
# (Release, Kestrel, loopback), driven by wrk in alternating rounds. For each round it reads the server's CPU time
# from /proc/<pid>/stat before and after, and prints the median requests/s and server CPU microseconds per request
# of each endpoint, with the ratios the targets are stated in. See benchmarks/README.md.
#
# Settings (environment):
#   ROUNDS=5          rounds; each round runs every endpoint once, in an order that rotates from round to round
#   DURATION=10s      wrk duration of one run
#   CONNECTIONS=32    wrk connections
#   THREADS=1         wrk threads (the machine's other cores are the server's)
#   WARMUP=3s         wrk run per endpoint before measuring (JIT tiering, the cache entries)
#   ENDPOINTS="raw origin outputcache tiered"
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-3s}
read -r -a ENDPOINTS <<<"${ENDPOINTS:-raw origin outputcache tiered}"

fail() {
  echo "load.sh: $*" >&2
  exit 1
}

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || fail "ROUNDS must be a positive integer (was '$ROUNDS')"
[ "${#ENDPOINTS[@]}" -gt 0 ] || fail "ENDPOINTS is empty"
command -v dotnet >/dev/null 2>&1 || fail "the .NET 10 SDK is required"
command -v curl >/dev/null 2>&1 || fail "curl is required"
if ! command -v wrk >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || fail "wrk is missing: run as root, or install it with 'apt-get install -y wrk'"
  echo "load.sh: installing wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
    || fail "could not install wrk with apt-get"
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "load.sh: building benchmarks/LoadApp (Release)"
dotnet build benchmarks/LoadApp -c Release -nologo -v quiet >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build failed"; }
dll=benchmarks/LoadApp/bin/Release/net10.0/LoadApp.dll
[ -f "$dll" ] || fail "$dll not found after the build"

# Port 0: the kernel picks a free loopback port; the app prints the address it got.
DOTNET_ENVIRONMENT=Production dotnet "$dll" --urls http://127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 300); do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; fail "the server exited during start-up"; }
  url=$(sed -n 's/^listening: //p' "$work/server.log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/server.log" >&2; fail "the server did not report its address within 30 s"; }
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$url/raw" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "$url/raw" || fail "$url/raw does not answer"
echo "load.sh: server pid $server_pid at $url ($(sed -n 's/^json: //p' "$work/server.log"))"

clock_ticks=$(getconf CLK_TCK)
# utime + stime of the server, in clock ticks (fields 14 and 15 of /proc/<pid>/stat; the name in field 2 may hold spaces).
cpu_ticks() {
  local stat
  kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$work/server.log" >&2; fail "the server (pid $server_pid) is gone"; }
  stat=$(<"/proc/$server_pid/stat")
  stat=${stat##*) }
  read -r -a fields <<<"$stat"
  echo $((fields[11] + fields[12]))
}

run_wrk() { # endpoint duration -> wrk output on stdout; fails on socket errors or non-2xx answers
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" "$url/$1") || fail "wrk failed on /$1"
  if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
    echo "$out" >&2
    fail "/$1 had errors under load"
  fi
  echo "$out"
}

echo "load.sh: warming each endpoint for $WARMUP"
for ep in "${ENDPOINTS[@]}"; do
  curl -fsS -o "$work/$ep.body" "$url/$ep" || fail "/$ep does not answer"
  run_wrk "$ep" "$WARMUP" >/dev/null
done

# Honesty checks: every endpoint sends the same bytes, and the cached ones are served from their caches.
for ep in "${ENDPOINTS[@]}"; do
  cmp -s "$work/${ENDPOINTS[0]}.body" "$work/$ep.body" || fail "/$ep and /${ENDPOINTS[0]} send different bodies"
done
for ep in "${ENDPOINTS[@]}"; do
  headers=$(curl -fsS -D - -o /dev/null "$url/$ep" | tr -d '\r')
  case "$ep" in
    tiered) grep -qi '^cache-status: .*; hit' <<<"$headers" || fail "/tiered is not an L1 hit: $headers" ;;
    outputcache) grep -qi '^age:' <<<"$headers" || fail "/outputcache is not served from the output cache: $headers" ;;
  esac
done

echo "load.sh: $ROUNDS rounds x ${#ENDPOINTS[@]} endpoints, wrk -t$THREADS -c$CONNECTIONS -d$DURATION; load before: $(uptime | sed 's/.*load average: //')"
printf '%-6s %-12s %12s %12s %14s\n' round endpoint requests req/s cpu-us/req
count=${#ENDPOINTS[@]}
for round in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((count - 1))); do
    ep=${ENDPOINTS[$(((i + round - 1) % count))]}
    before=$(cpu_ticks)
    out=$(run_wrk "$ep" "$DURATION")
    after=$(cpu_ticks)
    requests=$(awk '/ requests in / { print $1 }' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    [ -n "$requests" ] && [ "$requests" -gt 0 ] || fail "could not read the request count of /$ep from wrk"
    cpu=$(awk -v t=$((after - before)) -v hz="$clock_ticks" -v n="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    echo "$rps" >>"$work/$ep.rps"
    echo "$cpu" >>"$work/$ep.cpu"
    printf '%-6s %-12s %12s %12s %14s\n' "$round" "/$ep" "$requests" "$rps" "$cpu"
  done
done
load_after=$(uptime | sed 's/.*load average: //')

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A rps_median cpu_median
for ep in "${ENDPOINTS[@]}"; do
  rps_median[$ep]=$(median "$work/$ep.rps")
  cpu_median[$ep]=$(median "$work/$ep.cpu")
done

echo
echo "Medians of $ROUNDS alternating rounds (wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(nproc) cores; load after: $load_after)"
printf '| %-14s | %12s | %16s |\n' endpoint req/s "server CPU µs/req"
printf '|%s|%s|%s|\n' "----------------" "-------------:" "------------------:"
for ep in "${ENDPOINTS[@]}"; do
  printf '| %-14s | %12s | %16s |\n' "/$ep" "${rps_median[$ep]}" "${cpu_median[$ep]}"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
echo
if [ -n "${rps_median[tiered]:-}" ] && [ -n "${rps_median[raw]:-}" ]; then
  echo "req/s  /tiered ÷ /raw         = $(ratio "${rps_median[tiered]}" "${rps_median[raw]}")   (target ≥ 0.95)"
fi
if [ -n "${rps_median[tiered]:-}" ] && [ -n "${rps_median[outputcache]:-}" ]; then
  echo "req/s  /tiered ÷ /outputcache = $(ratio "${rps_median[tiered]}" "${rps_median[outputcache]}")   (target ≥ 1.10)"
fi
if [ -n "${cpu_median[tiered]:-}" ] && [ -n "${cpu_median[raw]:-}" ]; then
  echo "CPU    /tiered ÷ /raw         = $(ratio "${cpu_median[tiered]}" "${cpu_median[raw]}")   (target ≤ 1.10)"
fi
