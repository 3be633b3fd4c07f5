#!/usr/bin/env bash
# make fuzz: runs every decoder and parser fuzz target for FUZZTIME (default 30s)
# and prints each one's corpus size. Exits non-zero on the first crash.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
cache=$(go env GOCACHE)/fuzz/github.com/kferry/kferry
targets=(
  "pkg/format/native FuzzDecode"
  "pkg/format/jsonfmt FuzzDecode"
  "pkg/format/jsonfmt FuzzValueRoundTrip"
  "pkg/format/jsonfmt FuzzKeyRoundTrip"
  "pkg/format/jsonfmt FuzzAppendCompact"
  "pkg/format/bytesfmt FuzzRoundTrip"
  "pkg/layout FuzzParse"
  "pkg/layout FuzzRename"
  "pkg/manifest FuzzUnmarshal"
)
printf '%-22s %-20s %8s %s\n' PACKAGE TARGET CORPUS RESULT
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$pkg" >/tmp/kferry-fuzz.log 2>&1; then
    result=ok
  elif grep -q 'context deadline exceeded' /tmp/kferry-fuzz.log && ! grep -q 'Failing input' /tmp/kferry-fuzz.log; then
    result=ok # the fuzzer's own shutdown race on a busy machine (no crashing input)
  else
    result=FAIL
  fi
  n=$( (find "$cache/$pkg/$name" -type f 2>/dev/null || true) | wc -l)
  seeds=$( (find "$pkg/testdata/fuzz/$name" -type f 2>/dev/null || true) | wc -l)
  printf '%-22s %-20s %8d %s\n' "$pkg" "$name" "$((n + seeds))" "$result"
  if [ "$result" = FAIL ]; then
    cat /tmp/kferry-fuzz.log
    exit 1
  fi
done
