# Ampel's set-up, build, test and benchmark entry points.
#   make demo    installs libchdb, builds ampel and runs the demo
#   make test    installs test dependencies, starts a ClickHouse server on
#                loopback, runs every test against it and the embedded engine
#   make bench   the benchmarks, same set-up
#   make check-deploy  validates deploy/ (Dockerfile, compose, systemd,
#                Kubernetes) without Docker or a cluster; part of make test
GO        ?= go
BIN       ?= bin/ampel
GOFLAGS_TEST ?= -race -timeout 45m
BENCH     ?= .
BENCHTIME ?= 1x

.PHONY: all build demo libchdb test-deps test test-short bench vet fmt clean kpi-docs kpi-release check-deploy

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ampel

libchdb:
	deploy/install-libchdb.sh

test-deps: libchdb
	deploy/install-test-deps.sh

demo: libchdb build
	$(BIN) demo $(ARGS)

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

test: test-deps vet check-deploy
	deploy/with-test-clickhouse.sh $(GO) test $(GOFLAGS_TEST) ./...

test-short: test-deps
	deploy/with-test-clickhouse.sh $(GO) test -short ./...

# deploy/check is a Go module of its own (compose-go, BuildKit's parser,
# kustomize and the Kubernetes API types stay out of go.mod)
check-deploy: test-deps
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./...

bench: test-deps
	deploy/with-test-clickhouse.sh $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m ./...

# the KPI catalog page, docs/kpis.md, from the definitions in sql/kpis
kpi-docs:
	$(GO) test ./kpis -run '^TestCatalogPage$$' -update

# release a built-in KPI version: make kpi-release KPI=win_rate@v1
kpi-release:
	$(GO) run ./cmd/ampel kpi release --dir sql/kpis $(KPI)
	$(MAKE) kpi-docs

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
