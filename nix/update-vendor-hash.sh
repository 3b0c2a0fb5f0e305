#!/usr/bin/env bash
# Recompute vendorHash in nix/package.nix from go.mod and go.sum.
#
# usage: nix/update-vendor-hash.sh          rewrite the vendorHash line
#        nix/update-vendor-hash.sh --check  exit 1 if it is out of date
#
# It does what buildGoModule's goModules derivation does (`go mod vendor`)
# in a temporary copy of the Go sources, so the working tree is untouched,
# and takes the NAR sha256 of the vendor directory in SRI form. A module
# with nothing to vendor gets `vendorHash = null`. Needs go (1.26) with the
# module cache or network, nix (any version: `nix hash path` through the
# nix-command feature, else nix-hash) and perl.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pkg="$root/nix/package.nix"
mode=${1:-update}
case "$mode" in
update | --check) ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
# The same tree nix/package.nix builds: everything but Git, the Nix files and
# any vendor directory (go mod vendor looks at every package and test).
tar -C "$root" --exclude=./.git --exclude=./nix --exclude=./vendor --exclude=./result -cf - . |
	tar -C "$tmp/src" -xf -

cd "$tmp/src"
GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod vendor >&2

# The NAR sha256 of a path in SRI form: `nix hash path` (SRI sha256 is its
# default), else nix-hash's hex turned into base64.
nar_hash() {
	if nix --extra-experimental-features nix-command hash path "$1" 2>/dev/null; then
		return
	fi
	printf 'sha256-%s\n' "$(nix-hash --type sha256 "$1" | perl -ne 'chomp; print pack("H*", $_)' | base64 -w0)"
}

if [ -d vendor ] && [ -n "$(ls -A vendor)" ]; then
	hash="\"$(nar_hash vendor)\""
else
	hash=null
fi
line="  vendorHash = $hash; # nix/update-vendor-hash.sh"

current=$(grep -E '^ *vendorHash = .*; # nix/update-vendor-hash.sh$' "$pkg") || {
	echo "$pkg: no 'vendorHash = ...; # nix/update-vendor-hash.sh' line" >&2
	exit 1
}
if [ "$current" = "$line" ]; then
	echo "vendorHash is up to date: $hash" >&2
	exit 0
fi
if [ "$mode" = --check ]; then
	echo "$pkg: vendorHash is out of date with go.mod: have${current#*vendorHash =}, want $hash;" >&2
	echo "run nix/update-vendor-hash.sh" >&2
	exit 1
fi
# Write through a temporary file: never leave a half-written package.nix.
awk -v line="$line" '/^ *vendorHash = .*; # nix\/update-vendor-hash.sh$/ { print line; next } { print }' \
	"$pkg" >"$pkg.tmp"
mv "$pkg.tmp" "$pkg"
echo "vendorHash = $hash" >&2
