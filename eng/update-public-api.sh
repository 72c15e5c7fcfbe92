#!/usr/bin/env bash
# Regenerates PublicAPI.Unshipped.txt of the shipping projects from the PublicApiAnalyzers' own diagnostics
# (docs/contributing.md, "The public API"):
#   RS0016, a public symbol that neither file declares  -> its line goes into PublicAPI.Unshipped.txt;
#   RS0017, a declared symbol that is gone              -> a line of PublicAPI.Shipped.txt comes back as *REMOVED*.
# PublicAPI.Shipped.txt is never rewritten: a release moves lines there by hand, in a reviewed commit.
#
# Usage: eng/update-public-api.sh [src/Project/Project.csproj ...]   (no argument: every project under src/)
# Then review `git diff -- '*PublicAPI*.txt'`: every line is a change to what users compile against.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
  projects=("$@")
else
  projects=(src/*/*.csproj)
fi

header='#nullable enable'
for project in "${projects[@]}"; do
  [ -f "$project" ] || { echo "update-public-api: no project at $project" >&2; exit 1; }
  dir=$(dirname "$project")
  [ -f "$dir/PublicAPI.Shipped.txt" ] || printf '%s\n' "$header" > "$dir/PublicAPI.Shipped.txt"
  # Emptied, so that the build reports the whole unshipped surface (and every project recompiles: the file is an
  # input of the compiler).
  printf '%s\n' "$header" > "$dir/PublicAPI.Unshipped.txt"
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for project in "${projects[@]}"; do
  # The diagnostics as warnings, so that the build finishes and reports them all; any other error still fails here.
  if ! dotnet build "$project" -c Release -tl:off -nologo -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= >> "$log" 2>&1; then
    grep -E ': error ' "$log" | sort -u >&2 || true
    echo "update-public-api: $project does not build; fix that first" >&2
    exit 1
  fi
done

for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  # Physical path: MSBuild prints the project as the process sees it, symbolic links resolved.
  path=$(cd "$dir" && pwd -P)/$(basename "$project")
  # A diagnostic line: FILE(L,C): warning RS0016: Symbol 'LINE' is not part of the declared public API (...) [PROJECT]
  added=$(grep -F "[$path]" "$log" \
    | sed -nE "s/.*: warning RS0016: Symbol '(.*)' is not part of the declared public API.*/\1/p" || true)
  removed=$(grep -F "[$path]" "$log" \
    | sed -nE "s/.*: warning RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found.*/*REMOVED*\1/p" || true)
  lines=$(printf '%s\n%s\n' "$added" "$removed" | grep -v '^$' | LC_ALL=C sort -u || true)
  printf '%s\n' "$header" > "$dir/PublicAPI.Unshipped.txt"
  [ -z "$lines" ] || printf '%s\n' "$lines" >> "$dir/PublicAPI.Unshipped.txt"
  echo "update-public-api: $dir/PublicAPI.Unshipped.txt: $(printf '%s\n' "$lines" | grep -vc -e '^$' -e '^\*REMOVED\*' || true) unshipped, $(printf '%s\n' "$lines" | grep -c '^\*REMOVED\*' || true) removed"
done

# The baselines must now match: a normal build (warnings are errors) fails on any RS diagnostic left.
for project in "${projects[@]}"; do
  dotnet build "$project" -c Release -tl:off -nologo -v:q >/dev/null || {
    echo "update-public-api: $project still fails to build with the new baseline; run dotnet build to see why" >&2
    exit 1
  }
done
echo "update-public-api: done; review git diff -- '*PublicAPI*.txt'"
