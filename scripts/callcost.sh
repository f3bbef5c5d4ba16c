#!/bin/sh
# callcost.sh [RUNS [BENCHTIME]]: issue 13's side-by-side table. Builds the
# abi/wasi_p1 test binary once and runs BenchmarkCallCost and
# BenchmarkStartup RUNS times (default 5), each run measuring wazix and then
# wazero for every case. Prints, per case, the median ns/op and allocs/op of
# each host and the median of the per-run wazix/wazero ns/op ratios (each run
# pairs two measurements taken back to back, which cancels most of the
# noise of a shared machine). The raw output is kept in $OUT (default a
# temporary file) for benchstat. BENCH overrides the -test.bench pattern,
# e.g. BENCH='CallCost/poll' for the poll_oneoff cases only.
set -eu
runs=${1:-5}
benchtime=${2:-1s}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=${OUT:-$dir/bench.txt}
bench=${BENCH:-'^Benchmark(CallCost|Startup)$'}
: >"$out"
go test -c -o "$dir/wasi_p1.test" ./abi/wasi_p1
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	echo "run $i/$runs" >&2
	(cd abi/wasi_p1 && "$dir/wasi_p1.test" -test.run '^$' -test.bench "$bench" \
		-test.benchtime "$benchtime" -test.benchmem) | sed "s/^Benchmark/run$i Benchmark/" >>"$out"
done
awk '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 ~ /^run/ && $2 ~ /^Benchmark/ {
	run = $1; name = $2; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	host = name; sub(/.*\//, "", host); c = name; sub(/\/[^\/]*$/, "", c)
	for (f = 3; f <= NF; f++) { if ($f == "ns/op") ns = $(f - 1); if ($f == "allocs/op") al = $(f - 1) }
	if (!(c in seen)) { seen[c] = 1; order[++nc] = c }
	NS[c, host] = NS[c, host] " " ns; AL[c, host] = AL[c, host] " " al; v[c, host, run] = ns
	runs[run] = 1
}
END {
	printf "%-28s %12s %8s %12s %8s %7s\n", "benchmark", "wazix ns/op", "allocs", "wazero ns/op", "allocs", "ratio"
	for (k = 1; k <= nc; k++) {
		c = order[k]; r = ""
		for (run in runs) if ((c, "wazix", run) in v && (c, "wazero", run) in v) r = r " " v[c, "wazix", run] / v[c, "wazero", run]
		printf "%-28s %12.1f %8d %12.1f %8d %7.2f\n", c, median(NS[c, "wazix"]), median(AL[c, "wazix"]),
			median(NS[c, "wazero"]), median(AL[c, "wazero"]), median(r)
	}
}' "$out"
