# logstore — the two commands a newcomer needs: `make serve` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:9200
VENV ?= .venv
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps venv bench-venv build release loaddriver serve test test-python fuzz fuzz-build fuzz-smoke bench bench-tls bench-load bench-load-quick bench-chunks format clean help browser-deps test-browser bench-ui ui-screenshots

all: build

help:
	@echo "make serve   build (release) and run the server on $(DATA_DIR), listening on $(LISTEN)"
	@echo "make test    install what is missing and run every test"
	@echo "make fuzz    run each libFuzzer target for FUZZ_SECONDS (default $(FUZZ_SECONDS)) seconds"
	@echo "make bench   run the micro-benchmarks (ordo-one/benchmark) and the load drivers (ingest, reads, live tail)"
	@echo "make bench-load        logstore and PostgreSQL side by side, the REANA-like reference workload (< 20 min)"
	@echo "make bench-load-quick  the same, scaled down (< 3 min)"
	@echo "make bench-chunks      small-chunk ingest (1-3 lines per request) at 8 and 64 senders, server CPU per line (~1 min)"
	@echo "make bench-tls         what TLS and users cost: ingest lines/s and _search p95, plain HTTP against HTTPS + Basic auth (~3 min)"
	@echo "make bench-ui          the web viewer on a 1,000,000-line job in Chromium: first lines, scroll to the end"
	@echo "make ui-screenshots    the screenshots of docs/UI.md (docs/ui/*.png)"
	@echo "make bench-shapes      bytes on disk for six shapes of log; SHAPES_ARGS=\"--quick --victorialogs BIN\""

## System libraries: LMDB and zlib headers (pkg-config finds them once installed).
deps:
	@if ! pkg-config --exists lmdb zlib 2>/dev/null; then \
	  echo "installing liblmdb-dev zlib1g-dev pkg-config"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q liblmdb-dev zlib1g-dev pkg-config >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q liblmdb-dev zlib1g-dev pkg-config; }; \
	fi

## Python venv with the real clients the compatibility tests use.
venv: $(VENV)/.ready
$(VENV)/.ready: Tests/compat/requirements.txt
	@command -v $(PYTHON) >/dev/null || { $(SUDO) apt-get install -y -q python3 python3-venv; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q -r Tests/compat/requirements.txt
	@touch $@

## The PostgreSQL loader's packages for the side-by-side benchmark, in the same venv.
bench-venv: $(VENV)/.bench-ready
$(VENV)/.bench-ready: Benchmarks/requirements.txt
	@command -v $(PYTHON) >/dev/null || { $(SUDO) apt-get install -y -q python3 python3-venv; }
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q -r Benchmarks/requirements.txt
	@touch $@

build: deps
	$(SWIFT) build

# The Swift runtime and Foundation linked in (--static-swift-stdlib): the binary needs only
# liblmdb, zlib, libstdc++ and libc on the host or in an image, and maps ~5 MB less at start.
# Linked by the toolchain's lld with packed relative relocations (DT_RELR: 2.5 MB of
# relocations become 40 KB) and without exporting every Swift symbol dynamically (the
# static-stdlib default; nothing loads code into the server): ~4.5 MB less resident.
# Each function in its own section, and the functions a server runs placed together in the
# order deploy/logstore.order lists them (deploy/make-order-file.sh): ~5 MB less resident code.
RELEASE_LINK := -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic \
	-Xswiftc -Xfrontend -Xswiftc -function-sections \
	-Xlinker --symbol-ordering-file=$(CURDIR)/deploy/logstore.order -Xlinker --no-warn-symbol-ordering
release: deps
	$(SWIFT) build -c release --product logstore --static-swift-stdlib $(RELEASE_LINK) $(RELEASE_EXTRA)

serve: release
	.build/release/logstore serve --data-dir $(DATA_DIR) --listen $(LISTEN)

test: deps venv
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) fuzz-smoke
	$(MAKE) test-python
	$(MAKE) test-browser

## libFuzzer targets (Fuzz/): the bulk/NDJSON parser, the JSON scanner, msgpack, the query
## language, the OpenSearch DSL and the block codec. Built with -sanitize=fuzzer in release into
## .build-fuzz (its own flags; the first build takes minutes, later ones seconds), seeded from
## Tests/Fixtures by Fuzz/run.sh; a crash fails the run and leaves its input in .build-fuzz/crashes.
FUZZ_TARGETS := FuzzBulk FuzzJSONScanner FuzzMessagePack FuzzQuery FuzzDSL FuzzBlock
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 5
fuzz-build: deps
	@mkdir -p .build-fuzz
	@if [ ! -d .build-fuzz/checkouts ] && [ -d .build/checkouts ]; then \
	  cp -r .build/checkouts .build/workspace-state.json .build-fuzz/ && \
	  { [ ! -d .build/repositories ] || cp -r .build/repositories .build-fuzz/; }; fi
	@for target in $(FUZZ_TARGETS); do \
	  LOGSTORE_FUZZ=1 $(SWIFT) build -c release --scratch-path .build-fuzz --sanitize fuzzer --product $$target \
	    > .build-fuzz/build-$$target.log 2>&1 || { tail -40 .build-fuzz/build-$$target.log; exit 1; }; \
	done

fuzz: fuzz-build
	@for target in $(FUZZ_TARGETS); do Fuzz/run.sh $$target $(FUZZ_SECONDS) || exit 1; done

fuzz-smoke: fuzz-build
	@for target in $(FUZZ_TARGETS); do Fuzz/run.sh $$target $(FUZZ_SMOKE_SECONDS) || exit 1; done

test-python: venv
	@if ls Tests/compat/test_*.py >/dev/null 2>&1; then \
	  LOGSTORE_BIN=$$(pwd)/.build/debug/logstore $(VENV)/bin/python -m pytest -q Tests/compat; \
	else echo "no Python compatibility tests yet"; fi

## Micro-benchmarks (ordo-one/benchmark), then the whole-server load driver.
bench: deps release
	cd Benchmarks && $(SWIFT) package benchmark --no-progress --target StorageBenchmarks
	cd Benchmarks && $(SWIFT) run -c release SearchBench  # full-text search on 3M lines
	$(PYTHON) Benchmarks/load/loadgen.py --seconds 5
	$(PYTHON) Benchmarks/load/loadgen.py --total-lines 3000000
	$(PYTHON) Benchmarks/load/readbench.py || true  # exit 5 = a latency target missed; figures in its table
	$(PYTHON) Benchmarks/load/tailbench.py || true  # live tail: 3000 followers; exit 5 = p99 target missed
	$(MAKE) bench-shapes

## TLS + users against plain HTTP, interleaved runs (throwaway CA and users; needs openssl).
## The venv's Python when there is one (standard library only). BENCH_ARGS passes options (--help).
bench-tls: deps release
	$$( [ -x $(VENV)/bin/python ] && echo $(VENV)/bin/python || echo $(PYTHON) ) Benchmarks/load/tlsbench.py $(BENCH_ARGS)

## The open-loop driver (Swift: hdrhistogram-swift, async-http-client, postgres-nio).
loaddriver:
	cd Benchmarks && $(SWIFT) build -c release --product loaddriver

## logstore and PostgreSQL side by side; results in Benchmarks/results/*.json.
## PostgreSQL is installed from Debian when missing. BENCH_ARGS passes options (--help).
bench-load: deps release loaddriver bench-venv
	$(VENV)/bin/python Benchmarks/load/sidebyside.py $(BENCH_ARGS)
	$(VENV)/bin/python Benchmarks/load/chunkbench.py $(CHUNK_ARGS)

bench-load-quick: deps release loaddriver bench-venv
	$(VENV)/bin/python Benchmarks/load/sidebyside.py --quick $(BENCH_ARGS)
	$(VENV)/bin/python Benchmarks/load/chunkbench.py --quick $(CHUNK_ARGS)

## Small-chunk ingest as FluentBit sends it (1-3 lines per request, 8 and 64 senders) and
## 2,000-line bodies; CHUNK_ARGS="--victorialogs BIN" adds VictoriaLogs in the same run.
bench-chunks: deps release loaddriver
	$(PYTHON) Benchmarks/load/chunkbench.py $(CHUNK_ARGS)

## Bytes on disk for six shapes of log (dense jobs, slow jobs, sparse streams, workflow engines,
## 10,000 tiny streams, one huge stream): import, compact, du -sb, one stream's read time.
## SHAPES_ARGS passes options: --quick (about a minute), --victorialogs BIN (side by side).
.PHONY: bench-shapes
bench-shapes: deps release
	$(PYTHON) Benchmarks/shapes/shapes.py $(SHAPES_ARGS)

format:
	$(SWIFT) format --in-place --recursive Sources Tests Benchmarks/StorageBenchmarks

clean:
	rm -rf .build .build-fuzz Benchmarks/.build

## Debian's chromium and chromium-driver for the web viewer's browser tests (installed when missing).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing chromium chromium-driver"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }; \
	fi

## The web viewer in the real Chromium (Tests/browser/, selenium); screenshots in .build/browser/.
test-browser: venv browser-deps
	LOGSTORE_BIN=$$(pwd)/.build/debug/logstore $(VENV)/bin/python -m pytest -q Tests/browser

## The log view on a 1,000,000-line job, timed in the browser (Performance API); exit 5 = target missed.
bench-ui: release venv browser-deps
	cd Tests/browser && LOGSTORE_BIN=$(CURDIR)/.build/release/logstore $(CURDIR)/$(VENV)/bin/python bench_logview.py

## docs/ui/*.png, the screenshots of docs/UI.md.
ui-screenshots: build venv browser-deps
	cd Tests/browser && LOGSTORE_BIN=$(CURDIR)/.build/debug/logstore $(CURDIR)/$(VENV)/bin/python screenshots.py
