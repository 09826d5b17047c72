# gridgame — everything a fresh clone needs is installed from here.
# `make demo` and `make test` are the two promised commands; both install what is missing first.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# The platform binary itself: the npm launcher (node_modules/.bin/forge) exits 0 whatever forge
# returns, which would hide failing tests.
FORGE_BIN = $(firstword $(wildcard node_modules/@foundry-rs/forge-*/bin/forge))
FORGE_FLAGS := --offline --use ./tools/solc
SOL    := $(wildcard ledger_contracts/src/*.sol ledger_contracts/src/*/*.sol)

.PHONY: all install contracts test test-contracts test-python lint lint-contracts gas-snapshot slither slither-triage demo bench clean

all: install contracts

install: $(VENV)/.installed node_modules/.installed

# A second run finds the stamps newer than their inputs and reinstalls nothing.
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (gridgame needs Python 3.11+; set PYTHON=...)" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (gridgame needs Node 20+ and npm)" >&2; exit 1; }
	# npm install, not npm ci: npm 11 leaves other platforms' optional Anvil/Forge builds out of
	# the lock file and npm ci then refuses it; npm install installs from the lock (and fills
	# in those entries).
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# Contracts are compiled by Forge through solcjs (tools/solc); Python loads build/forge/*.json.
# Forge can exit 0 when the compiler's output is unreadable, so the artifacts are checked too.
build/forge/.built: node_modules/.installed foundry.toml tools/solc $(SOL)
	$(FORGE_BIN) build $(FORGE_FLAGS)
	@for c in GridForwarder Market GridToken Settlement; do test -f build/forge/$$c.sol/$$c.json || \
	  { echo "error: contract build produced no build/forge/$$c.sol/$$c.json" >&2; exit 1; }; done
	touch $@

contracts: build/forge/.built

test: install contracts test-contracts test-python

test-contracts: build/forge/.built
	$(FORGE_BIN) test $(FORGE_FLAGS)

test-python: $(VENV)/.installed build/forge/.built
	$(PY) -m pytest

# The contracts' checks (CI runs `make lint`): formatting, Forge's lints at every severity (a note
# fails; the exclusions and their reasons are in foundry.toml) and the committed gas snapshot.
# The snapshot holds the deterministic tests only: fuzz and invariant tests are left out
# (--no-match-test), their mean gas depending on the number of runs, which FOUNDRY_PROFILE=ci
# raises. After an intended gas change, `make gas-snapshot` rewrites it (commit it with the change).
GAS_SNAPSHOT := ledger_contracts/test/.gas-snapshot
SNAPSHOT_FLAGS := $(FORGE_FLAGS) --no-match-test 'fuzz|invariant'

lint-contracts: build/forge/.built
	$(FORGE_BIN) fmt --check
	$(FORGE_BIN) lint --use ./tools/solc --deny notes
	$(FORGE_BIN) snapshot $(SNAPSHOT_FLAGS) --check $(GAS_SNAPSHOT)

gas-snapshot: build/forge/.built
	$(FORGE_BIN) snapshot $(SNAPSHOT_FLAGS) --snap $(GAS_SNAPSHOT)

lint: $(VENV)/.installed lint-contracts
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy gridgame ledger_contracts tx_queue market_clock optimizer prosumer_client demo meter_gateway

# Static analysis of the contracts (not part of CI; docs/security.md triages every finding and
# slither.db.json lists the triaged ones, which Slither then hides: a new finding fails).
# Slither needs web3 7, the project web3 8, so it gets a venv of its own. It runs `forge clean`
# and rebuilds the sources with build info, so the next `make` rebuilds the rest.
SLITHER_VENV := .venv-slither
slither: build/forge/.built
	test -x $(SLITHER_VENV)/bin/slither || { $(PYTHON) -m venv $(SLITHER_VENV) && \
	  $(SLITHER_VENV)/bin/pip install --quiet --disable-pip-version-check 'slither-analyzer==0.11.6'; }
	PATH="$(abspath $(dir $(FORGE_BIN))):$$PATH" FOUNDRY_SOLC=$(CURDIR)/tools/solc \
	  $(SLITHER_VENV)/bin/slither . --compile-force-framework foundry \
	  --foundry-out-directory build/forge --filter-paths "node_modules|ledger_contracts/test" \
	  $(SLITHER_FLAGS)

# After reading every new finding and triaging it in docs/security.md: record the findings as
# triaged (slither.db.json), so `make slither` shows only what is new.
slither-triage:
	rm -f build/slither.json slither.db.json
	$(MAKE) slither SLITHER_FLAGS="--json build/slither.json" || true
	$(PY) -c 'import json; r = json.load(open("build/slither.json"))["results"].get("detectors", []); \
	  json.dump([{k: f[k] for k in ("id", "check", "description")} for f in r], \
	  open("slither.db.json", "w"), indent=1)'

demo: install contracts
	$(PY) -m demo

bench: install contracts
	$(PY) -m bench

clean:
	rm -rf build .venv .venv-slither node_modules
