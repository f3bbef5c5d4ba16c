#!/bin/sh
# idle-cpu.sh SECONDS CMD...: runs CMD with stdin a FIFO that stays open and
# empty, lets it start for 3 s, then prints the CPU (user + system) the
# process used over SECONDS, in clock ticks and as a share of one core, and
# stops it.
set -eu
secs=$1; shift
tck=$(getconf CLK_TCK)
dir=$(mktemp -d)
mkfifo "$dir/in"
exec 3<>"$dir/in" # a writer that never writes: reads block
"$@" <"$dir/in" >/dev/null 2>&1 &
pid=$!
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
sleep "$secs"
t1=$(ticks)
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
exec 3>&-
rm -r "$dir"
echo "$((t1 - t0)) ticks of 1/$tck s in $secs s: $(awk -v d=$((t1 - t0)) -v s="$secs" -v h="$tck" 'BEGIN { printf "%.2f", 100 * d / h / s }')% of a core"
