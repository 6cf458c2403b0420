# mcpage build, test and benchmark entry points. See README.md.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 20s
# Packages with fuzz targets; `make fuzz` runs each target for $(FUZZTIME).
FUZZPKGS ?= ./httpparse/... ./server/... ./mcclient/...

.PHONY: all build run test deps bench fuzz vet clean

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	@for pkg in $$($(GO) list $(FUZZPKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
