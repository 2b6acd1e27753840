# Two entry points: `make run` (web + worker on embedded defaults) and `make test`.
# Both work on a fresh machine with python3; `make test` installs Debian's Chromium if missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The web process, `banner` and `demo` all read it: printed URLs name the port served.
export PORT

.PHONY: run test quick lint browser-deps bench

# pytest keeps the modules it rewrites (the tests and its plugins: schemathesis alone is
# 244) as .pyc files only when Python may write bytecode; some images forbid it, which
# costs every test process 5 s of compiling at its start.
unexport PYTHONDONTWRITEBYTECODE

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What running needs only; `make test` adds the test tools with its own stamp, so either
# order works and `make test` after `make run` still installs them.
$(BIN)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The TypeScript tools tests/test_clients.py runs (openapi-typescript, tsc), pinned by the
# lock file; without npm the test says it is skipped.
CLIENT_TOOLS := tests/clients/node_modules/.installed
$(CLIENT_TOOLS): tests/clients/package.json tests/clients/package-lock.json
	@if command -v npm >/dev/null; then \
	  cd tests/clients && npm ci --silent --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: the TypeScript client test will be skipped"; fi

run: $(BIN)/.installed-run
	$(BIN)/flask --app app db upgrade
	@$(BIN)/flask --app app banner --wait 60 &
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT) web worker

browser-deps:
	@command -v chromium >/dev/null && command -v zbarimg >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium zbar-tools >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium zbar-tools >/dev/null; }; }

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The whole suite: everything but the `serial` tests in TEST_WORKERS parallel processes
# (pytest-xdist; each has its own databases, tests/isolation.py), then the serial tests
# alone. Exit code 5 is "no test selected", which PYTEST_ARGS can make of either run.
TEST_WORKERS ?= auto
test: $(BIN)/.installed-test $(CLIENT_TOOLS) browser-deps lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The fast loop: no browser, no process started, in parallel (README, Development).
quick: $(BIN)/.installed-test
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not multiprocess and not browser" $(PYTEST_ARGS)

# The benchmark (not part of the test suite); see docs/performance.md.
bench: $(BIN)/.installed-test
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q wrk >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q wrk >/dev/null; }; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)
