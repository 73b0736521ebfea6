# The two commands that matter on a fresh machine: `make run` and `make test`.
# Both create/refresh the virtual environment in .venv themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
CORPUS ?= ../shared/corpus
QUERY ?= How should a region organise its entrepreneurial discovery process?

.PHONY: setup run test test-fast lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,llm]"
	touch $(STAMP)

setup: $(STAMP)

## Ingest the sample corpus (bundled MiniLM, embedded Chroma under ./data), run a search, then
## serve the web app and API on http://127.0.0.1:7860 (/ui, /v1/chat/completions, /docs).
run: setup
	rc=0; $(BIN)/s3assist ingest $(CORPUS)/strategies $(CORPUS)/guidance --root $(CORPUS) || rc=$$?; \
	  [ $$rc -eq 0 ] || [ $$rc -eq 3 ]
	$(BIN)/s3assist search "$(QUERY)" -k 5
	$(BIN)/s3assist serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Lint, type-check, run the whole test suite (slow tests included, as CI does), then the eval
## regression gate (eval/gate.toml: a fixed slice of the dev sets, extractive backend).
test: lint
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)
	$(BIN)/python -m pytest
	$(BIN)/s3assist eval gate --quiet --out eval/runs/gate-ci

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
