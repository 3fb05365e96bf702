# Two entry points: `make demo` (set up, then run the main job) and `make test`.
# Needs only Python 3.12 (`python3.12`) and make; everything else comes from the package index.
# PYTHON may name another 3.12+ interpreter. pyenv's shim is looked through when
# 3.12 is installed but not selected.
PYTHON ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' 2>/dev/null && echo python3.12 || (pyenv root >/dev/null 2>&1 && ls -d "$$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | tail -1))
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-all lint bench serve down clean local-model browser

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 is required: install python3.12 (or set PYTHON=/path/to/python3.12)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12+ is required (set PYTHON=/path/to/python3.12)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

# A browser for the console tests (tests/server/console): one already there (Playwright's or the
# distribution's chromium), else apt-get's (as root), else Playwright's download, else say
# what to install.
browser: $(STAMP)
	@if ls $$HOME/.cache/ms-playwright/chromium* >/dev/null 2>&1; then echo "browser: Playwright's Chromium"; \
	elif command -v chromium >/dev/null 2>&1; then echo "browser: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; then echo "browser: chromium (apt-get)"; \
	elif timeout 300 $(BIN)/playwright install chromium >/dev/null 2>&1; then echo "browser: Playwright's Chromium (downloaded)"; \
	else echo "no browser for the console tests: run 'playwright install chromium', or install your distribution's chromium (apt-get install -y chromium)" >&2; exit 1; fi

test: browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

test-all: browser
	$(BIN)/pytest -q -m ''

bench: $(STAMP)
	$(BIN)/python bench/spaces_bench.py
	$(BIN)/python bench/cli_start_bench.py
	$(BIN)/python bench/rpi_bench.py
	PYTHONPATH=. $(BIN)/python bench/research_bench.py
	PYTHONPATH=. $(BIN)/python bench/sse_bench.py
	PYTHONPATH=. $(BIN)/python bench/runs_bench.py
	PYTHONPATH=. $(BIN)/python bench/serve_bench.py

# The Agent Server API on Aegra (Postgres + Redis), durable: `spaces serve --instances N`.
serve: $(STAMP)
	$(BIN)/spaces serve

# llama-server (built from the pinned llama-cpp-python sdist) and SmolLM2-135M, cached
# under SPACES_HOME; `spaces model serve` starts it (README "Models").
local-model: $(STAMP)
	$(BIN)/python -m app.llm.local build

down: $(STAMP)
	$(BIN)/spaces down

# The home and the demo's vault as every entry point finds them (SPACES_HOME, else the
# checkout's .spaces/; see app/settings.py), not whatever ./.spaces the shell is in.
clean: down
	@set -e; where="$$($(BIN)/python -c 'from app.settings import Settings; s = Settings.from_env(); print(s.home); print(s.vaults_dir / "demo")')"; \
	echo "removing" $$where; echo "$$where" | while IFS= read -r p; do rm -rf -- "$$p"; done
