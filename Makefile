# lmmr1 developer entry points. Everything installs into .venv; nothing outside it is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo_out

.PHONY: setup test test-fast bench demo lint clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes, so `make test` after the first run is a no-op here.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check lmmr1_cli tests bench
	$(BIN)/ruff format --check lmmr1_cli tests bench

clean:
	rm -rf $(DEMO) build *.egg-info
