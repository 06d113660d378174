# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint typecheck test test-fast demo bench browser clean

$(STAMP): pyproject.toml sandbox/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sandbox
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests bench sandbox
	$(BIN)/ruff format --check src tests bench sandbox
	$(BIN)/mypy src

typecheck: install
	$(BIN)/mypy src

# Debian's Chromium for the browser tests (Playwright's own download cannot work offline).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: install browser lint
	$(BIN)/pytest

# Ports: make demo DEMO_ARGS='--port 8001 --sandbox-port 8421'
demo: install
	$(BIN)/billing demo $(DEMO_ARGS)

bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python bench/spend.py
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache billing.db* .billing
