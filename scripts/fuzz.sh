#!/usr/bin/env bash
# Runs every fuzz target for a bounded amount of work, one after the other (FUZZTIME each,
# default 2000x: 2000 executions): config unmarshal + Validate of each component, span attribute
# extraction and cost, OTTL condition compile, every checkpoint decoder, alert templates and
# receiver payloads. The committed corpora (testdata/fuzz/) also run as ordinary tests in `go test`.
# The budget is a count, not a duration: with a duration, Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when the time runs out under CPU contention
# (golang/go#75804, fixed in Go 1.27), which would make CI flaky for no input at all.
# A crash leaves its input under the package's testdata/fuzz/<Target>/: commit it with the fix.
#   scripts/fuzz.sh                 # CI: 2000 executions each
#   FUZZTIME=200000x scripts/fuzz.sh  # longer, locally
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-2000x}
# The engine minimises each new input; bound that by a count too.
MINIMIZE=${FUZZMINIMIZETIME:-100x}
targets=(
  "./connector/spanmetrics FuzzConfig FuzzDecodeCheckpoint FuzzConsumeSpan FuzzClassifyAndCount"
  "./processor/sloprocessor FuzzConfig FuzzDecodeCheckpoint FuzzDecodeRatioStreams"
  "./processor/sloprocessor/internal/spancond FuzzCompile"
  "./processor/regressionprocessor FuzzConfig FuzzDecodeCheckpoint"
  "./exporter/alertexporter FuzzConfig FuzzLoadCheckpoint FuzzDecodeCheckpoint FuzzTemplateRendering FuzzWebhookPayload FuzzAlertmanagerPayload FuzzSlackPayload FuzzPagerDutyEvent FuzzEmailMessage"
  "./extension/slostatusextension FuzzConfig"
  "./internal/safelabel FuzzSanitize"
  "./internal/checkpoint FuzzReader"
  "./internal/slomath FuzzMigrateSeries"
  "./internal/duration FuzzParse"
)
start=$SECONDS
n=0
for line in "${targets[@]}"; do
  read -r pkg names <<<"$line"
  for name in $names; do
    echo "--- fuzz $pkg $name ($FUZZTIME)"
    go test -run="^${name}\$" -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$MINIMIZE" -parallel=1 "$pkg"
    n=$((n + 1))
  done
done
echo "fuzz: $n targets, $((SECONDS - start))s"
