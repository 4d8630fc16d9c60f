# Ampel's set-up, build, test and benchmark entry points.
#   make demo    installs libchdb, builds ampel and runs the demo
#   make test    installs test dependencies, starts a ClickHouse server on
#                loopback, runs every test against it and the embedded engine
#   make test-cluster  the cluster tests alone: starts a ClickHouse cluster
#                (3 servers, 2 shards, ZooKeeper) on loopback and runs the
#                tests named …Cluster… under it; part of make test
#   make bench   the benchmarks, under the test server and the test cluster
#   make build-server  bin/ampel-server: no cgo, static, the clickhouse
#                driver only (a server-only deployment, a distroless image)
#   make check-deploy  validates deploy/ (Dockerfile, compose, systemd,
#                Kubernetes) without Docker or a cluster; part of make test
GO        ?= go
BIN       ?= bin/ampel
GOFLAGS_TEST ?= -race -timeout 90m
BENCH     ?= .
BENCHTIME ?= 1x
# tests that need the cluster (deploy/with-test-cluster.sh) match this
# pattern; the packages that have them are found by their names
CLUSTER_RUN ?= Cluster
CLUSTER_PKGS = $(shell grep -rlE --include='*_test.go' --exclude-dir=deploy '^func Test[A-Za-z0-9_]*$(CLUSTER_RUN)' . | xargs -r -n1 dirname | sort -u)

.PHONY: all build build-server demo libchdb test-deps test test-cluster test-short bench vet fmt clean kpi-docs kpi-release score-release audit-release check-deploy

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ampel

# without cgo: the embedded engine (a C library) is left out
build-server:
	CGO_ENABLED=0 $(GO) build -o $(BIN)-server ./cmd/ampel

libchdb:
	deploy/install-libchdb.sh

test-deps: libchdb
	deploy/install-test-deps.sh

demo: libchdb build
	$(BIN) demo $(ARGS)

vet:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# both builds: with cgo (the tests' binary) and without (build-server;
# TestServerOnlyBuild also runs one); the cluster tests run once, under the
# cluster
test: test-deps vet build build-server check-deploy
	deploy/with-test-clickhouse.sh $(GO) test $(GOFLAGS_TEST) -skip '$(CLUSTER_RUN)' ./...
	deploy/with-test-cluster.sh $(GO) test $(GOFLAGS_TEST) -run '$(CLUSTER_RUN)' $(CLUSTER_PKGS)

test-cluster: test-deps
	deploy/with-test-cluster.sh $(GO) test $(GOFLAGS_TEST) -run '$(CLUSTER_RUN)' $(CLUSTER_PKGS)

test-short: test-deps
	deploy/with-test-clickhouse.sh $(GO) test -short -skip '$(CLUSTER_RUN)' ./...

# deploy/check is a Go module of its own (compose-go, BuildKit's parser,
# kustomize and the Kubernetes API types stay out of go.mod)
check-deploy: test-deps
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./...

# under the single test server and the test cluster (BenchmarkClusterSync)
bench: test-deps
	deploy/with-test-clickhouse.sh deploy/with-test-cluster.sh $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m ./...

# the KPI catalog page, docs/kpis.md, from the definitions in sql/kpis
kpi-docs:
	$(GO) test ./kpis -run '^TestCatalogPage$$' -update

# release a built-in KPI version: make kpi-release KPI=win_rate@v1
kpi-release:
	$(GO) run ./cmd/ampel kpi release --dir sql/kpis $(KPI)
	$(MAKE) kpi-docs

# release a built-in scoring model version: make score-release MODEL=demo@v1
score-release:
	$(GO) run ./cmd/ampel score release --dir sql/scoring $(MODEL)
# release a built-in audit rule: make audit-release RULE=invalid_email@v2
audit-release:
	$(GO) run ./cmd/ampel audit release --dir sql/audits $(RULE)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
