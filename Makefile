# mcpage build, test and benchmark entry points. See README.md.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 20s
# Packages with fuzz targets; `make fuzz` runs each target for $(FUZZTIME).
FUZZPKGS ?= ./httpparse/... ./server/... ./mcclient/...

# bench: how long each load measurement runs (go test -benchtime).
BENCHTIME ?= 1s
# bench-anchors: where ../shared/anchors/run.sh writes table.txt, raw.tsv, env.txt.
ANCHORS_OUT ?= bench/results/anchors
# Knobs of ../shared/anchors/run.sh (see its README), passed to it when set
# (only to it: an exported empty MCPAGE_ARGS would reach every mcpage the
# tests start, which warns about MCPAGE_* variables that name no flag).
ANCHOR_KNOBS = $(foreach v,DUR ROUNDS SIZES CONNS ANCHORS MCPAGE_ARGS,$(if $($(v)),$(v)='$($(v))'))

.PHONY: all build run test deps bench bench-stack bench-inproc bench-anchors fuzz vet clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/mcpage ./cmd/mcpage
	$(GO) build -o $(BIN)/demo-origin ./cmd/demo-origin

# run: the demo origin on 127.0.0.1:9000 and mcpage in front of it on 127.0.0.1:8080.
run: build
	@scripts/run-demo.sh $(BIN)

# deps installs what the tests need on a fresh Debian machine (memcached for the
# store and client tests, libmemcached-dev for the ketama cross-check helper).
deps:
	@scripts/install-deps.sh

vet:
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -count=1 -timeout 14m ./...
	@# Allocation pins (testing.AllocsPerRun) are exact only without the race detector.
	$(GO) test -count=1 -run 'Alloc' ./...
	@# Every load suite once, at a tiny size, so none can rot (seconds).
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -short ./bench/

# bench: the whole-stack load suites and scale curves (bench/: tables printed,
# and written with the curves' PNG plots to bench/results/), then the
# in-process benchmarks of the other packages.
bench: bench-stack bench-inproc

bench-stack: build
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m ./bench/ \
	  -args -bench.out results -bench.mcpage $(abspath $(BIN))/mcpage

bench-inproc:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 20m \
	  $$($(GO) list ./... | grep -v '/bench$$')

# bench-anchors: mcpage beside nginx + srcache + memc, nginx proxy_cache,
# Varnish and a bare gnet server under the same wrk load (../shared/anchors).
bench-anchors: build
	$(ANCHOR_KNOBS) MCPAGE=$(BIN)/mcpage OUT=$(ANCHORS_OUT) ../shared/anchors/run.sh

fuzz:
	@for pkg in $$($(GO) list $(FUZZPKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
