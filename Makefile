# modelmon: `make demo` runs the local demo stack, `make test` runs the test suite.
# Both create the virtual environment (.venv) and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DURATION ?=

.PHONY: demo test lint typecheck bench venv clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/modelmon demo $(if $(DEMO_DURATION),--duration $(DEMO_DURATION),)

# installs the integration tests' system packages when it can, else says which tests will skip
test: venv
	@bash .ci/integration-deps
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy

typecheck: venv
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m bench.run

# Debian packages the integration tests use (prometheus, promtool, chromium, docker-compose v1).
system-deps:
	bash .ci/system-deps

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
