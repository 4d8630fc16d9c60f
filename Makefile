# Ampel's set-up, build, test and benchmark entry points.
#   make demo    installs libchdb, builds ampel and runs the demo
#   make test    installs test dependencies, starts a ClickHouse server on
#                loopback, runs every test against it and the embedded engine
#   make bench   the benchmarks, same set-up
GO        ?= go
BIN       ?= bin/ampel
GOFLAGS_TEST ?= -race -timeout 45m
BENCH     ?= .
BENCHTIME ?= 1x

.PHONY: all build demo libchdb test-deps test test-short bench vet fmt clean kpi-docs kpi-release audit-release

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

test: test-deps vet
	deploy/with-test-clickhouse.sh $(GO) test $(GOFLAGS_TEST) ./...

test-short: test-deps
	deploy/with-test-clickhouse.sh $(GO) test -short ./...

bench: test-deps
	deploy/with-test-clickhouse.sh $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m ./...

# the KPI catalog page, docs/kpis.md, from the definitions in sql/kpis
kpi-docs:
	$(GO) test ./kpis -run '^TestCatalogPage$$' -update

# release a built-in KPI version: make kpi-release KPI=win_rate@v1
kpi-release:
	$(GO) run ./cmd/ampel kpi release --dir sql/kpis $(KPI)
	$(MAKE) kpi-docs

# release a built-in audit rule: make audit-release RULE=invalid_email@v2
audit-release:
	$(GO) run ./cmd/ampel audit release --dir sql/audits $(RULE)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
