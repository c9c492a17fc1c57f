#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after the other (FUZZTIME each, default 3s:
# 19 targets, about a minute of fuzzing plus compiling): config unmarshal + Validate of each component, span attribute extraction and cost, OTTL
# condition compile, every checkpoint decoder, alert templates and receiver payloads.
# The committed corpora (testdata/fuzz/) also run as ordinary tests in `go test`.
# A crash leaves its input under the package's testdata/fuzz/<Target>/: commit it with the fix.
#   scripts/fuzz.sh               # CI: 3s each
#   FUZZTIME=2m scripts/fuzz.sh   # longer, locally
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-3s}
# The engine minimises each new input; bound it so one slow minimisation cannot eat the budget.
MINIMIZE=${FUZZMINIMIZETIME:-2s}
targets=(
  "./connector/spanmetrics FuzzConfig FuzzDecodeCheckpoint FuzzConsumeSpan"
  "./processor/sloprocessor FuzzConfig FuzzDecodeCheckpoint FuzzDecodeRatioStreams"
  "./processor/sloprocessor/internal/spancond FuzzCompile"
  "./processor/regressionprocessor FuzzConfig FuzzDecodeCheckpoint"
  "./exporter/alertexporter FuzzConfig FuzzLoadCheckpoint FuzzTemplateRendering FuzzWebhookPayload FuzzAlertmanagerPayload FuzzSlackPayload FuzzPagerDutyEvent FuzzEmailMessage"
  "./extension/slostatusextension FuzzConfig"
  "./internal/safelabel FuzzSanitize"
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
