#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, then runs every test project.
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
# Programs the integration tests start for real, and the Debian package that brings each (chromium: the
# sample dashboard test drives it headless; python3: the upstream the ProxyCache walk-through starts; nats-server: the
# JetStream change-event tests, Debian puts it in /usr/sbin, where the tests' fixture looks too).
for pair in redis-server:redis-server redis-cli:redis-tools chromium:chromium python3:python3 curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair##*:}")
done
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
# PostgreSQL for the change-event tests: Debian's postgresql package puts initdb and postgres in
# /usr/lib/postgresql/VERSION/bin (off the PATH), where the tests' fixture looks first.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${need_apt[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

command -v dotnet >/dev/null 2>&1 || { echo "test.sh: the .NET 10 SDK is required (https://dot.net)" >&2; exit 1; }

# What ships is decided by the repository's layout, not by where it is cloned (docs/contributing.md): a few seconds.
eng/check-shipping.sh

dotnet test ResponseCaching.sln --configuration Release "$@"
