# ledgerclear — one-line entry points. `make demo` runs the main job, `make test` the test suite.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench contracts clean

$(STAMP): pyproject.toml requirements.lock package.json package-lock.json
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e ".[test]"
	# npm ci rejects this lock (npm 11 omits other platforms' optional Anvil binaries); install honours it
	npm install --no-fund --no-audit --loglevel=error
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf out/demo  # a fresh market each time (`ledgerclear day --market out/demo ...` adds days to it)
	$(VENV)/bin/ledgerclear demo --out out/demo

test: $(STAMP)
	$(VENV)/bin/pytest

test-fast: $(STAMP)
	$(VENV)/bin/pytest -m "not slow"

bench: $(STAMP)
	$(VENV)/bin/python scripts/bench_settlement.py

contracts: $(STAMP)
	$(VENV)/bin/python scripts/build_contracts.py

clean:
	rm -rf $(VENV) node_modules out
