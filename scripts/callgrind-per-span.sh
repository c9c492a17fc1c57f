#!/usr/bin/env bash
# Instructions per span of a component benchmark, counted by callgrind (valgrind), which does not
# depend on what else the machine is doing. The benchmark runs twice, N1 and N2 iterations; the
# difference of the two totals over the difference of the spans cancels the set-up.
#
#   scripts/callgrind-per-span.sh PACKAGE BENCH_REGEX N1 N2 SPANS_PER_ITERATION
#   scripts/callgrind-per-span.sh ./processor/sloprocessor 'ConsumeTraces/default_six_slos$' 200 1200 100
#   scripts/callgrind-per-span.sh ./processor/regressionprocessor 'AgentRuns$' 20 120 999
#   scripts/callgrind-per-span.sh ./connector/spanmetrics 'CPUConsume/spans=1000/series=10$' 10 60 1000
set -euo pipefail
[ $# -eq 5 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
pkg=$1 re=$2 n1=$3 n2=$4 per=$5
command -v valgrind >/dev/null || { echo "callgrind-per-span: valgrind is needed (Debian package valgrind)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" "$pkg"
count() {
  # Signal-based preemption trips callgrind; one P and no collection make the count repeatable.
  GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 GOGC=off valgrind --tool=callgrind \
    --callgrind-out-file="$dir/out.$1" "$dir/bench.test" -test.run='^$' -test.bench="$re" \
    -test.benchtime="${1}x" -test.cpu=1 >/dev/null 2>"$dir/err.$1"
  grep -o 'Collected : [0-9]*' "$dir/err.$1" | awk '{print $3}'
}
a=$(count "$n1")
b=$(count "$n2")
awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" -v per="$per" \
  'BEGIN { printf "%.1f instructions/span\n", (b - a) / ((n2 - n1) * per) }'
