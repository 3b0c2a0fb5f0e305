#!/usr/bin/env bash
# Parse every .nix file of the repository (nix-instantiate --parse): syntax
# only, no evaluation, no nixpkgs, no network.
#
# usage: nix/check-parse.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=0
bad=0
while IFS= read -r -d '' f; do
	n=$((n + 1))
	if ! out=$(nix-instantiate --parse "$f" 2>&1 >/dev/null); then
		echo "check-parse: $f: $out" >&2
		bad=$((bad + 1))
	fi
done < <(find . -name .git -prune -o -name '*.nix' -type f -print0 | sort -z)
if [ "$n" -eq 0 ]; then
	echo "check-parse: no .nix files found under $root" >&2
	exit 1
fi
if [ "$bad" -gt 0 ]; then
	echo "check-parse: $bad of $n files do not parse" >&2
	exit 1
fi
echo "check-parse: $n files parse" >&2
