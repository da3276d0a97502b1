#!/usr/bin/env bash
# Usage: upstream-manifests.sh OUT_DIR [SOURCES_FILE]
#
# Downloads the upstream manifests the golden tests of test/upstream check
# (Flux's install, ingress-nginx, cert-manager, podinfo, ...) into OUT_DIR,
# each module at the version SOURCES_FILE (default
# test/testdata/upstream/sources.yaml) pins, through the Go module proxy
# (`go mod download`), never written into the repository. Each source lands
# in OUT_DIR/<name>/ with its VERSIONS record; OUT_DIR/VERSIONS lists them
# all. OUT_DIR is replaced as a whole, so a failed run leaves the previous
# one in place. The work is done by test/upstream/fetch, which reads the
# list and applies the edits it records.
set -euo pipefail

out=$(realpath -m "${1:?usage: upstream-manifests.sh OUT_DIR [SOURCES_FILE]}")
root=$(realpath "$(dirname "$0")/..")
list=$(realpath "${2:-$root/test/testdata/upstream/sources.yaml}")
cd "$root"
exec go run ./test/upstream/fetch -sources "$list" "$out"
