# Two entry points for people (run, test) and the steps behind them.
# Everything lives in a project-local virtual environment, .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Dashboard port for `make run` (make run PORT=8123); unset: TENANTCOST_PORT or 8000.
PORT ?=

.PHONY: run test lint typecheck clean bench bytecode chromium pg15 weasyprint-libs

# Progress from the first second: each step says what it does, pip shows its own progress.
$(STAMP): pyproject.toml
	@echo "==> creating the virtual environment in $(VENV)/ (once; about a minute)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip"
	$(BIN)/pip install --progress-bar on --upgrade pip
	@echo "==> installing tenantcost and its dependencies into $(VENV)/"
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)
	@echo "==> virtual environment ready"

## run: start the embedded database, migrate, load the demo fleet and show the reports
##      (PORT=N: serve the dashboard on port N; a busy port is reported before any work)
run: $(STAMP) bytecode weasyprint-libs
	$(BIN)/tenantcost demo run $(if $(PORT),--port $(PORT))

## bytecode: compile tenantcost's modules, so that each command starts from bytecode even where
##           PYTHONDONTWRITEBYTECODE is set (an editable install compiles nothing; without it
##           every `tenantcost` command compiled the modules it imports again: ~0.2 s more)
bytecode:
	@$(BIN)/python -m compileall -q src/tenantcost

## chromium: Debian's Chromium for the browser tests (installed only when missing; needs root)
chromium:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: chromium not installed; browser tests will skip"

## pg15: Debian's PostgreSQL 15 server binaries for the cross-version RLS tests (installed only
## when missing; needs root). The package's default cluster is dropped: tests start their own.
pg15:
	@test -x /usr/lib/postgresql/15/bin/postgres || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null && \
	  { pg_dropcluster --stop 15 main 2>/dev/null || true; }; } \
	  || echo "note: postgresql-15 not installed; the PostgreSQL 15 RLS tests will skip"

## weasyprint-libs: Debian's Pango and HarfBuzz, which WeasyPrint needs to write the executive
## reports' PDF (installed only when missing; needs root)
weasyprint-libs:
	@test -e /usr/lib/x86_64-linux-gnu/libpangoft2-1.0.so.0 -o -n "$$(ldconfig -p 2>/dev/null | grep libpangoft2-1.0.so.0)" || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
	  libharfbuzz-subset0 fonts-dejavu-core >/dev/null; } \
	  || echo "note: Pango not installed; the report PDF (and its tests) will fail"

## test: lint, type-check and run the whole test suite
test: $(STAMP) chromium pg15 weasyprint-libs
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
