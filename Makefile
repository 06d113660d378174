# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRONTEND := frontend
NODE_STAMP := $(FRONTEND)/node_modules/.installed
FRONTEND_BUILD := $(FRONTEND)/dist/index.html
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/index.html \
	$(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json $(FRONTEND)/scripts/swagger-ui.mjs

.PHONY: install lint typecheck test demo bench bench-tools soak browser promtool \
	alert-rules clean frontend-test types pgbouncer deploy-check

$(STAMP): pyproject.toml sandbox/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sandbox
	touch $(STAMP)

# The frontend: npm packages from the lock file, then the build the service serves at `/`
# (type-checked; rebuilt only when a source changed), with Swagger UI for `/docs`.
$(NODE_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(FRONTEND_BUILD): $(NODE_STAMP) $(FRONTEND_SOURCES)
	cd $(FRONTEND) && npm run build --silent
	touch $(FRONTEND_BUILD)

install: $(STAMP) $(FRONTEND_BUILD)

# Component tests (Vitest), and the API types checked against the service's OpenAPI.
frontend-test: $(STAMP) $(NODE_STAMP)
	cd $(FRONTEND) && npm test --silent
	PYTHON=$(abspath $(BIN))/python $(FRONTEND)/scripts/types.sh --check

# After an API change: regenerate frontend/openapi.json and frontend/src/types/stripe.ts.
types: $(STAMP) $(NODE_STAMP)
	PYTHON=$(abspath $(BIN))/python $(FRONTEND)/scripts/types.sh

lint: install
	$(BIN)/ruff check src tests bench sandbox
	$(BIN)/ruff format --check src tests bench sandbox
	$(BIN)/mypy src
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy src

# Debian's Chromium for the browser tests (Playwright's own download cannot work offline).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# kubernetes-validate and checkov in a venv of their own (checkov pins many packages).
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
$(DEPLOY_STAMP):
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet kubernetes-validate==1.37.0 checkov==3.3.30
	touch $(DEPLOY_STAMP)

# The Kubernetes manifests, Containerfiles and Prometheus configuration, checked offline.
deploy-check: $(DEPLOY_STAMP) promtool
	DEPLOY_TOOLS=$(DEPLOY_VENV)/bin deploy/check.sh

# Debian's PgBouncer: the PostgreSQL money-path tests run through it too.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null)

# Debian's Prometheus for promtool, which checks and unit-tests the alert rules.
promtool:
	@command -v promtool >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)

alert-rules: promtool
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

# Two workers, each on databases of its own (tests/support/workers.py) and each given
# whole files (their module fixtures are shared in order), then alone what kills workers
# at random or measures the machine.
test: install browser pgbouncer lint alert-rules deploy-check frontend-test
	$(BIN)/pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

# Ports: make demo DEMO_ARGS='--port 8001 --sandbox-port 8421'
# `billing demo` runs in development by itself (the service defaults to production).
demo: install
	$(BIN)/billing demo $(DEMO_ARGS)

# wrk drives HTTP load; pgbench comes with Debian's PostgreSQL server package.
bench-tools:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	@command -v pgbench >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-contrib >/dev/null)

# Every benchmark and its same-run baselines: bench/results/latest.md and latest.json.
bench: install bench-tools
	$(BIN)/python bench/report.py $(BENCH_ARGS)

# Ten minutes of steady mixed load, watched for growth: make soak SOAK_ARGS='--minutes 30'
soak: install
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) .pytest_cache .mypy_cache .ruff_cache billing.db* .billing
	rm -rf $(FRONTEND)/node_modules $(FRONTEND)/dist
