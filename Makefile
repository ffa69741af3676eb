# modelmon: `make demo` runs the local demo stack, `make test` runs the test suite (the docs build included).
# Both create the virtual environment (.venv) and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DURATION ?=

.PHONY: demo test test-containers lint typecheck bench venv clean system-deps docs docs-serve

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
	$(BIN)/ruff check src tests bench deploy docs
	$(BIN)/ruff format --check src tests bench deploy docs
	$(BIN)/mypy
	$(BIN)/pytest -q

# The compose stack in real containers (rootful podman): the Dockerfile built, the stack run end to end.
test-containers: venv
	bash .ci/container-deps
	@echo "container check: MongoDB and Grafana have no image here; the stack runs without them (store: PostgreSQL)"
	MODELMON_CONTAINER_CHECK=1 $(BIN)/pytest -q -s -p no:cacheprovider --durations=10 tests/deploy/test_deploy_containers.py

lint: venv
	$(BIN)/ruff check src tests bench deploy docs
	$(BIN)/ruff format --check src tests bench deploy docs

typecheck: venv
	$(BIN)/mypy

# the documentation site, built with --strict into site/ (tests/docs builds it too, in make test)
docs: venv
	$(BIN)/mkdocs build --strict

docs-serve: venv
	$(BIN)/mkdocs serve --strict

bench: venv
	$(BIN)/python -m bench.run

# Debian packages the integration tests use (prometheus, promtool, chromium, docker-compose v1).
system-deps:
	bash .ci/system-deps

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache .mypy_cache .ruff_cache
