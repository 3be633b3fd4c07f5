#!/usr/bin/env bash
# golangci-lint.sh [ARGS...]
#
# Runs golangci-lint at a pinned version with ARGS (`make vet` passes `run`), or,
# without ARGS, prints the path of the binary. The binary is built with
# `go install` into a cache folder when missing, the way test-env.sh builds
# versitygw: outside this module, so the linter's own go.mod decides its
# dependencies and kferry's go.mod never lists them.
#
# Environment: KFERRY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kferry)
# holds the build; KFERRY_GOLANGCI_LINT (a binary path) skips the build.
set -euo pipefail

GOLANGCI_LINT_VERSION=v2.15.0
GO=${GO:-go}

log() { echo "golangci-lint.sh: $*" >&2; }

# ensure_golangci_lint prints the path of a golangci-lint binary, building it if needed.
ensure_golangci_lint() {
	if [ -n "${KFERRY_GOLANGCI_LINT:-}" ]; then
		echo "$KFERRY_GOLANGCI_LINT"
		return
	fi
	local cache=${KFERRY_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/kferry}
	local dir=$cache/golangci-lint-$GOLANGCI_LINT_VERSION
	if [ ! -x "$dir/golangci-lint" ]; then
		log "building golangci-lint $GOLANGCI_LINT_VERSION into $dir (takes a few minutes, once)"
		mkdir -p "$dir"
		# Outside any module, so the pinned version's own go.mod decides.
		(cd "$dir" && GOBIN=$dir GOFLAGS= "$GO" install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION") >&2
	fi
	echo "$dir/golangci-lint"
}

bin=$(ensure_golangci_lint)
if [ $# -eq 0 ]; then
	echo "$bin"
	exit 0
fi
exec "$bin" "$@"
