# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= ml-latest-small
MODEL_DIR ?= models
PORT ?= 8000

.PHONY: run serve train test lint bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

$(MODEL_DIR)/current: | $(VENV)/.installed
	$(BIN)/python -m training train --data $(DATA) --out $(MODEL_DIR)

run: $(MODEL_DIR)/current  ## install, train on the bundled data if needed, serve on :8000
	MODEL_DIR=$(MODEL_DIR) HOST=0.0.0.0 PORT=$(PORT) $(BIN)/python -m app

train: $(VENV)/.installed
	$(BIN)/python -m training train --data $(DATA) --out $(MODEL_DIR)

test: $(VENV)/.installed  ## the whole suite (the README's test command)
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed  ## ruff (imports, bugbear, ...), mypy and bandit on the public code
	$(BIN)/ruff check .
	$(BIN)/mypy app training recommender_core
	$(BIN)/bandit -q -r app training recommender_core

bench: $(VENV)/.installed  ## serving benchmark against the trivial app (needs wrk)
	$(BIN)/python -m benchmarks.bench_serving --model-dir $(MODEL_DIR)

screenshots: $(MODEL_DIR)/current  ## the README's screenshots of the page (needs chromium)
	$(BIN)/python -m benchmarks.screenshots --model-dir $(MODEL_DIR) --out docs/img

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
