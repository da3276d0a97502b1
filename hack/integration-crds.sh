#!/usr/bin/env bash
# Usage: integration-crds.sh OUT_DIR MODULE@VERSION:PATH...
#
# Copies the CRDs of the integrations the Helm chart can render objects for
# (cert-manager's Certificate and Issuer, the Prometheus Operator's
# ServiceMonitor) from those projects' Go modules into OUT_DIR, so that the
# chart's tests validate those objects against the real schemas. OUT_DIR is
# replaced as a whole; OUT_DIR/VERSIONS records where each file came from.
set -euo pipefail

out=$(realpath -m "${1:?usage: integration-crds.sh OUT_DIR MODULE@VERSION:PATH...}")
shift

tmp=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for spec in "$@"; do
	mv=${spec%%:*}
	path=${spec#*:}
	json=$(go mod download -json "$mv") || { echo "$json" >&2; exit 1; }
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
	[[ -n $dir ]] || { echo "go mod download $mv: no module directory in: $json" >&2; exit 1; }
	cp "$dir/$path" "$tmp/"
	echo "$mv $path" >>"$tmp/VERSIONS"
done
chmod -R u+w "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
