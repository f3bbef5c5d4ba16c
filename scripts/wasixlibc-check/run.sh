#!/bin/sh
# Runs the real-wasix-libc checks of issues 9 and 14 by hand (not in CI: it needs a wasix-libc
# sysroot built locally, see README.md). WAZIX is the wazix binary to check.
set -u
cd "$(dirname "$0")"
W=${WAZIX:?set WAZIX to a wazix binary}
T=$(mktemp -d)
./build.sh fs cp fdl idle acc || exit 1
mkdir -p "$T/box" "$T/box2/d"
echo "== fs under --dir X::/";    "$W" run --dir "$T/box::/" fs.wasm -- / | grep -v '^ok'
echo "== fs under --mapdir /d:X"; "$W" run --mapdir "/d:$T/box2/d" fs.wasm -- /d | grep -v '^ok'
echo "== cp /dev/stdin /dev/stdout"; echo copied | "$W" run --dir "$T/box::/" cp.wasm -- /dev/stdin /dev/stdout
echo "== fd layer";               timeout -s KILL 20 "$W" run --net fdl.wasm | grep -v '^ok'
for m in eventfd pipe sock listen mio futex; do
  "$W" run --net idle.wasm -- $m >/dev/null 2>&1 & P=$!
  sleep 1.5; a=$(awk '{print $14+$15}' /proc/$P/stat); sleep 4; b=$(awk '{print $14+$15}' /proc/$P/stat)
  echo "== idle $m: $((b-a)) CPU ticks in 4 s"; kill -9 $P; wait $P 2>/dev/null
done
for m in eventfd pipe sock listen mio; do printf '== wake %s: ' $m; timeout -s KILL 10 "$W" run --net idle.wasm -- $m 300 | tail -1; done
rm -rf "$T"
