#!/usr/bin/env bash
# What ships must not depend on where the repository is cloned (docs/contributing.md, "What ships"). The repository
# is copied under a folder named src (TMP/src/TieredResponseCaching, where a test on the path's text would take every
# project for a package) and each project's evaluated properties are checked there: the projects in the repository's
# src/ ship (IsShipping, IsPackable, docs, AOT analysis), all others (samples, tests, benchmarks) do not.
# Evaluation only: a few seconds. With --build it also builds samples/CatalogApi in the copy (about a minute), which
# failed with CS1591 (missing XML docs) when shipping was decided by the path.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/src/TieredResponseCaching"
mkdir -p "$copy"
tar --exclude=./.git --exclude=bin --exclude=obj --exclude=TestResults --exclude=BenchmarkDotNet.Artifacts \
  --exclude=./artifacts -cf - . | tar -xf - -C "$copy"

failed=0
while IFS= read -r project; do
  case "$project" in
    src/*) want=true ;;
    *) want=false ;;
  esac
  got=$(cd "$copy" && dotnet msbuild "$project" -nologo -getProperty:IsShipping -getProperty:IsPackable \
    -getProperty:GenerateDocumentationFile -getProperty:IsAotCompatible | tr -d ' \n')
  for property in IsShipping IsPackable GenerateDocumentationFile IsAotCompatible; do
    value=$(printf '%s' "$got" | sed -nE "s/.*\"$property\":\"([^\"]*)\".*/\1/p")
    [ -n "$value" ] || value=false
    if [ "$value" != "$want" ]; then
      echo "check-shipping: $project under $copy has $property=$value, expected $want" >&2
      failed=1
    fi
  done
done < <(cd "$copy" && find . -name '*.csproj' -not -path '*/bin/*' -not -path '*/obj/*' | sed 's|^\./||' | sort)

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "check-shipping: src/* ship, nothing else does, in a clone under $tmp/src/"

if [ "${1:-}" = "--build" ]; then
  (cd "$copy" && dotnet build samples/CatalogApi/CatalogApi.csproj -c Release -nologo -v:q -tl:off)
  echo "check-shipping: samples/CatalogApi builds in a clone under $tmp/src/"
fi
