# hotspot-pay: `make demo` runs the product locally; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
SWIFT_FLAGS ?= -Xswiftc -warnings-as-errors
BUILD_DIR := .build/debug
DEMO_DIR := $(CURDIR)/.run/demo

.PHONY: deps build test test-unit test-simulate simulate test-fuzz-regressions test-integration test-e2e test-portal test-openapi schemathesis ruff lint demo demo-stop bench fuzz soak clean

deps:
	@scripts/install-deps.sh

build: deps
	swift build $(SWIFT_FLAGS)

## Everything: formatting, unit tests, adapters against real peers, end to end through nginx.
test: deps lint
	swift build --build-tests $(SWIFT_FLAGS) --explicit-target-dependency-import-check error
	$(MAKE) --no-print-directory test-unit test-simulate test-fuzz-regressions test-integration test-e2e

# The Swift with swift format, the Python with the pinned ruff (ruff.toml), and every target's
# imports against its declared dependencies (SwiftPM's own check, in `test`, misses imports that
# only compile through a dependency's dependency).
lint: ruff
	swift format lint --strict --recursive Sources Tests
	.run/ruff/bin/ruff check
	$(PYTHON) scripts/check_imports.py

# Every test target that needs no database and no sandbox; test-integration runs the others.
test-unit:
	swift test --skip-build --filter 'DomainTests|JSONTests|APITests|ReplyJSONTests|SecretsTests|ConfigurationTests|WiringTests|FCGIEntryTests|HotspotCtlTests|SimulationTests'

# The saga under seeded simulation, a fixed budget of seeds (make simulate runs more).
test-simulate:
	$(BUILD_DIR)/hotspot-simulate --seeds 1000

## The saga under seeded simulation: SEED=n replays one seed with its trace; SEEDS=n (default 20000) runs more.
simulate: build
	@$(BUILD_DIR)/hotspot-simulate $(if $(SEED),--seed $(SEED),--seeds $${SEEDS:-20000} --from $${FROM:-1})

# Every input the fuzzers ever crashed on (and the seeds), replayed through the same decoders.
test-fuzz-regressions:
	@for target in payment-json payment-form fastcgi routeros conekta; do \
	  $(BUILD_DIR)/hotspot-fuzz-replay $$target fuzz/seeds/$$target fuzz/regressions/$$target || exit 1; \
	done

# Adapters against a throw-away PostgreSQL cluster and the HTTPS sandboxes.
test-integration:
	$(PYTHON) scripts/with_postgres.py -- swift test --skip-build \
	  --filter 'PersistenceTests|HTTPTransportTests|RouterOSTests|GatewayTests'

# The whole stack: PostgreSQL, sandboxes, the server, nginx from deploy/nginx.conf.
test-e2e: schemathesis
	HOTSPOT_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) $(PYTHON) -m pytest -q -p no:cacheprovider e2e

# The payment page in headless Chromium (also part of test-e2e); screenshots in .run/test-output/portal/.
test-portal: deps
	HOTSPOT_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) $(PYTHON) -m pytest -q -p no:cacheprovider e2e/test_portal_browser.py

## docs/openapi.yaml against the stack: every documented answer provoked and validated, then schemathesis.
test-openapi: schemathesis
	HOTSPOT_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) $(PYTHON) -m pytest -q -p no:cacheprovider \
	  e2e/test_openapi.py e2e/test_schemathesis.py

# The pinned Python tools, each in a venv under .run/ (Debian's python3 is externally managed).
schemathesis:
	@scripts/install-python-tools.sh schemathesis

ruff:
	@scripts/install-python-tools.sh ruff

## The product on this machine, left running in .run/demo. Run again while it runs whole, it keeps
## it (same port, key and database) and prints its addresses; a dead or half-dead one is replaced.
demo: build
	@$(PYTHON) scripts/demo.py --dir $(DEMO_DIR) --build-dir $(CURDIR)/$(BUILD_DIR)

# Says what it stopped, or that no demo is running (exit 0 either way).
demo-stop:
	@$(PYTHON) scripts/hotspot_stack.py down --dir $(DEMO_DIR)

## Speed, memory and start-up (not part of make test): see bench/RESULTS.md.
bench:
	@scripts/install-deps.sh --bench
	swift build -c release $(SWIFT_FLAGS)
	HOTSPOT_BUILD_DIR=$(CURDIR)/.build/release $(PYTHON) bench/run.py

## The long soak (SOAK_SECONDS, default 300): faults, a PostgreSQL restart, a SIGKILL; then the invariants.
soak: build
	HOTSPOT_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) SOAK_SECONDS=$${SOAK_SECONDS:-300} $(PYTHON) e2e/soak.py

## libFuzzer over every decoder of outside bytes, FUZZ_SECONDS each (default 60).
fuzz: deps
	scripts/fuzz.sh

clean:
	rm -rf .build .run
