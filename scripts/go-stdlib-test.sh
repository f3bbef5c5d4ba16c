#!/usr/bin/env bash
# Runs Go's own standard library tests for GOOS=wasip1 with wazix as the exec
# runner, as Go's builders do with wazero. One package at a time (-p 1):
# some tests (time.TestLongAdjustTimers) have a wall-clock budget that two
# cores running several wasm test binaries at once can exceed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)/wazix"
CGO_ENABLED=0 go build -o "$bin" ./cmd/wazix  # the fast-start build (README)
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(os io/fs path/filepath time net syscall os/exec io/ioutil bufio strconv)
fi
WAZIX="$bin" GOOS=wasip1 GOARCH=wasm go test -p 1 -exec "$PWD/scripts/go_wasip1_wasm_exec" "${pkgs[@]}"
