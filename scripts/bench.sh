#!/usr/bin/env bash
# `make bench`: the component benchmarks (through benchstat) and the end-to-end loopback benchmark
# (bench/: the peer pipeline against ours, same binary, alternated at rising rates). Everything it
# needs is built by the repository itself: bin/otelcol-amas (make build), telemetrygen (make tools),
# benchstat (pinned below, installed into .tools/bin). docs/benchmarks.md explains the method.
#
# Default: about 10 minutes. Knobs (environment):
#   BENCH_LONG=1          longer steps, more rates, -count=10 at the default benchtime
#   BENCH_COMPONENTS=0    skip the component benchmarks;  BENCH_E2E=0  skip the end-to-end one
#   BENCH_COUNT, BENCH_TIME   -count and -benchtime of the component benchmarks
#   BENCH_FLAGS           extra flags for the end-to-end benchmark (go run ./bench -h)
#   BENCH_OUT             output directory (default: a new one under ${TMPDIR:-/tmp})
#   BENCH_SKIP_BUILD=1    use the existing bin/otelcol-amas and .tools/bin
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# golang.org/x/perf has no releases: this pseudo-version is the one the project's figures used.
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
benchstat="$root/.tools/bin/benchstat"

long=${BENCH_LONG:-0}
out=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/amas-bench-$(date -u +%Y%m%d-%H%M%S)-XXXX")}
mkdir -p "$out"
echo "bench: results in $out"
start=$SECONDS

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  make --no-print-directory build tools
fi
mkdir -p .tools/bin
if [ ! -x "$benchstat" ] || [ "$(cat "$benchstat.version" 2>/dev/null)" != "$BENCHSTAT_VERSION" ]; then
  echo "bench: installing benchstat $BENCHSTAT_VERSION"
  GOBIN="$root/.tools/bin" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
  echo "$BENCHSTAT_VERSION" >"$benchstat.version"
fi

if [ "${BENCH_COMPONENTS:-1}" != 0 ]; then
  # package and -bench filter, one line each
  if [ "$long" = 1 ]; then
    count=${BENCH_COUNT:-10} benchtime=${BENCH_TIME:-1s}
    runs="./connector/spanmetrics .
./processor/sloprocessor/... .
./processor/regressionprocessor/... .
./exporter/alertexporter/... ."
  else
    count=${BENCH_COUNT:-6} benchtime=${BENCH_TIME:-100ms}
    # Two fixtures take most of a minute per run and stay in the long run only: the connector's
    # 100,000-series setups and the SLO tick over 10,000 series.
    runs="./connector/spanmetrics ^Benchmark(Consume|Flush)\$/./spans=1000/series=(10|1000)\$
./processor/sloprocessor/... ^Benchmark(ConsumeTraces|SeriesMemory)\$
./processor/sloprocessor ^BenchmarkTick\$/^series=10\$
./processor/regressionprocessor/... .
./exporter/alertexporter/... ."
  fi
  echo "bench: component benchmarks (-count=$count -benchtime=$benchtime)"
  raw="$out/components.txt"
  : >"$raw"
  while read -r pkg filter; do
    go test -run='^$' -bench="$filter" -count="$count" -benchtime="$benchtime" "$pkg" | tee -a "$raw"
  done <<<"$runs"
  {
    echo "## benchstat $raw"
    "$benchstat" "$raw"
    echo
    echo "## contrib span_metrics against amas_spanmetrics (benchstat -col /impl)"
    "$benchstat" -col /impl -filter '.name:Consume' "$raw"
  } | tee "$out/components-benchstat.txt"
fi

if [ "${BENCH_E2E:-1}" != 0 ]; then
  # The instructions phase runs the collectors under valgrind's cachegrind.
  if ! command -v valgrind >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null
  fi
  go build -o .tools/bin/amas-bench ./bench
  e2e_flags=()
  [ "$long" = 1 ] && e2e_flags+=(-long)
  # shellcheck disable=SC2206 # BENCH_FLAGS is split on purpose
  e2e_flags+=(${BENCH_FLAGS:-})
  .tools/bin/amas-bench -out "$out/e2e" "${e2e_flags[@]}" | tee "$out/e2e-report.md"
fi
echo "bench: done in $((SECONDS - start))s; results in $out"
