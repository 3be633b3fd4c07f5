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

. "$(dirname "${BASH_SOURCE[0]}")/lib/go-installed.sh"

bin=$(go_installed golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION" "${KFERRY_GOLANGCI_LINT:-}")
if [ $# -eq 0 ]; then
	echo "$bin"
	exit 0
fi
exec "$bin" "$@"
