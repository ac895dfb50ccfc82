# The two commands of the README: `make dev` runs the service, `make test` runs every check.
# Both bootstrap what they need on a fresh machine (a venv, the package, a redis-server).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test slow bench clean

dev: $(STAMP)
	$(BIN)/otp-service dev

test: $(STAMP)
	bash scripts/ensure-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/pytest

slow: $(STAMP)
	bash scripts/ensure-tools
	$(BIN)/pytest -m slow

bench: $(STAMP)
	$(BIN)/python bench/run.py --profile all --seconds 20

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
