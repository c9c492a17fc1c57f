#!/usr/bin/env bash
# Builds the test-only programs into .tools/bin, each from a tools module of its own under tools/
# so their dependencies never enter the product's module graph:
#   jaeger       - Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger v1.76.0)
#   telemetrygen - contrib cmd/telemetrygen v0.161.0
# A binary is rebuilt only when its tools module changed since it was built.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p .tools/bin

build() { # name, tools dir, package
  local name=$1 dir=$2 pkg=$3 out="$root/.tools/bin/$1"
  if [ -x "$out" ] && [ "$out" -nt "$dir/go.mod" ] && [ "$out" -nt "$dir/go.sum" ]; then
    echo "build-tools: $name up to date"
    return
  fi
  echo "build-tools: building $name (cold: several minutes)"
  local start=$SECONDS
  (cd "$dir" && go build -trimpath -o "$out.tmp" "$pkg") && mv "$out.tmp" "$out"
  echo "build-tools: $name built in $((SECONDS - start))s"
}

build jaeger tools/jaeger github.com/jaegertracing/jaeger/cmd/jaeger &
jaeger_pid=$!
build telemetrygen tools/telemetrygen github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen
wait $jaeger_pid
