# The two commands: `make demo` (set up, run the whole pipeline locally) and `make test`
# (ruff, mypy through scripts/typecheck.py, pytest).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# ssh-keygen signs and verifies approvals; the registry serves images to the Kubernetes tests;
# Chromium (with fonts for legible screenshots) runs the Prefect UI in the browser tests,
# driven by Playwright's Python package (never `playwright install`: no download works here);
# PostgreSQL holds the Prefect server of the end-to-end push test (tests/webhook/).
RUN_DEBS := openssh-client
TEST_DEBS := openssh-client docker-registry chromium fonts-dejavu-core postgresql

.PHONY: demo test lint bench down clean

demo: $(VENV)/.installed
	@scripts/system-deps $(RUN_DEBS)
	$(BIN)/releasegate demo

test: $(VENV)/.installed-dev
	@scripts/system-deps $(TEST_DEBS)
	$(BIN)/ruff check .
	$(BIN)/python scripts/typecheck.py
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck.py

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/audit_scale.py --s3
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/oncall.py

down: $(VENV)/.installed
	$(BIN)/releasegate down

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .releasegate
