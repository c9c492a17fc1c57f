# otelcol-amas. The two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/otelcol-amas
TOOLS_BIN := $(CURDIR)/.tools/bin
CONFIG ?= config/otelcol-amas.yaml
# Every test package, unit and end-to-end. End-to-end packages start real services.
TEST_TIMEOUT ?= 25m

.PHONY: all build generate generate-distribution generate-metadata check-metadata compile run test unit-test e2e-test tools deps bench alert-bench fuzz kill-test reliability lint fmt check-generated generate-observability check-observability generate-kubernetes demo clean

all: build

## build: regenerate distribution/ from builder-config.yaml and compile bin/otelcol-amas.
# Several engineers (and CI) may build at once in one checkout: a lock keeps the generated tree whole.
build:
	@mkdir -p .tools bin
	flock .tools/build.lock $(MAKE) --no-print-directory generate-distribution compile

## generate: regenerate every generated source: each component's mdatagen output and distribution/.
generate: generate-metadata generate-distribution

# The builder's sources are not gofmt-clean; formatting them here keeps the committed tree
# formatted and still byte-for-byte what `make build` produces.
generate-distribution:
	$(GO) tool builder --config builder-config.yaml --skip-compilation
	gofmt -w distribution/*.go

# Every component's metadata.yaml, and what mdatagen writes from it: internal/metadata
# (status, telemetry builder), internal/metadatatest, the lifecycle and goleak tests,
# documentation.md and the status block of README.md.
METADATA_YAML := $(sort $(wildcard connector/*/metadata.yaml processor/*/metadata.yaml exporter/*/metadata.yaml extension/*/metadata.yaml))
METADATA_OUT := $(foreach d,$(METADATA_YAML:/metadata.yaml=),$(d)/generated_component_test.go $(d)/generated_package_test.go $(d)/documentation.md $(d)/README.md $(d)/internal/metadata $(d)/internal/metadatatest)

## generate-metadata: run mdatagen (pinned in tools/mdatagen) on every component's metadata.yaml.
generate-metadata:
	@for y in $(METADATA_YAML); do echo "mdatagen $$y"; $(GO) -C tools/mdatagen tool mdatagen $(CURDIR)/$$y || exit 1; done

## check-metadata: fail when the committed mdatagen output is not what the metadata.yaml files generate.
check-metadata: generate-metadata
	@out=$$(git status --porcelain --untracked-files=all -- $(METADATA_OUT)); if [ -n "$$out" ]; then echo "$$out"; echo "mdatagen output differs from metadata.yaml: run make generate-metadata and commit it"; exit 1; fi

compile:
	cd distribution && $(GO) build -trimpath -o ../$(BIN) .

## run: build and start the collector with the default configuration.
run: build
	./$(BIN) --config $(CONFIG)

## demo: agent traffic for a collector started with `make run` (another terminal): a healthy
## minute, then agent `support` fails every run until the alert pages (cmd/amas-demo).
DEMO_ARGS ?=
demo:
	$(GO) run ./cmd/amas-demo $(DEMO_ARGS)

## deps: the services and programs the tests use (Debian packages, Jaeger, telemetrygen, and the
## npm packages of the instrumentation end-to-end tests).
deps:
	./scripts/install-deps.sh
	./scripts/install-npm.sh

tools:
	./scripts/build-tools.sh

## test: every test, unit and end-to-end, against real Prometheus, Alertmanager and Jaeger.
test: deps tools build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

unit-test:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e /test/e2e -e /deploy)

e2e-test: build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./test/e2e/...

## bench: component benchmarks (benchstat) and the end-to-end benchmark against the peer pipeline (docs/benchmarks.md).
bench:
	./scripts/bench.sh

## alert-bench: the false-page benchmark of docs/alerting.md: 30 simulated days through the slo
## processor and, in a real Prometheus, through the generated rules (prints the per-SLO tables).
alert-bench:
	$(GO) test -run='^$$' -bench=FalsePages -benchtime=1x -timeout=60m ./internal/slosim/

## fuzz: every fuzz target for FUZZTIME each (default 2000x executions; CI runs it).
fuzz:
	./scripts/fuzz.sh

## kill-test: the SIGKILL test with 10 kills (CI runs 3 as part of the end-to-end tests).
kill-test: build
	AMAS_KILLS=10 $(GO) test -count=1 -v -timeout 20m -run TestSIGKILL ./test/e2e/reliability/

## reliability: overload, hostile cardinality and a 10-minute soak (docs/reliability.md; not in CI).
reliability: build
	$(GO) run ./bench reliability

## lint: go vet and a gofmt check; fails on findings.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## generate-observability: regenerate config/observability (Prometheus rules, Grafana
## dashboards, SLO definitions) from config/otelcol-amas.yaml.
generate-observability:
	$(GO) run ./cmd/amas-slo render --config $(CONFIG) --out config/observability
	$(GO) run ./cmd/amas-slo rules --mode central --config config/otelcol-amas.yaml --config deploy/replica/slo-by-service.yaml > deploy/central/prometheus_rules.yaml

## check-observability: fail when config/observability is not what config/otelcol-amas.yaml generates.
check-observability:
	$(GO) run ./cmd/amas-slo check --config $(CONFIG) --out config/observability

## generate-kubernetes: regenerate the collector configuration inside deploy/helm and deploy/operator
## and the PrometheusRule and dashboard ConfigMaps of deploy/kube-prometheus-stack from config/ and
## config/observability (go test ./deploy fails when they differ).
generate-kubernetes:
	$(GO) test -count=1 -run '^TestGeneratedKubernetesFilesAreUpToDate$$' ./deploy -update

## check-generated: the committed distribution/ and mdatagen output must be what the builder and
## mdatagen generate.
check-generated: build
	@git diff --exit-code -- distribution/ || { echo "distribution/ differs from what builder-config.yaml generates: run make build and commit it"; exit 1; }
	@$(MAKE) --no-print-directory check-metadata

clean:
	rm -rf bin .tools/build.lock distribution/otelcol-amas
