# Two entry points: `make demo` (set up, then run the main job) and `make test`.
# Needs only Python 3.11+ and make; everything else comes from the package index.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-all lint bench down clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

test-all: $(STAMP)
	$(BIN)/pytest -q -m ''

bench: $(STAMP)
	$(BIN)/python bench/spaces_bench.py
	$(BIN)/python bench/rpi_bench.py
	PYTHONPATH=. $(BIN)/python bench/research_bench.py
	PYTHONPATH=. $(BIN)/python bench/sse_bench.py

down: $(STAMP)
	$(BIN)/spaces down

clean: down
	rm -rf .spaces vaults/demo
