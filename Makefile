# The two commands a newcomer needs: `make run` and `make test`. Every install comes from the
# lock (requirements/lock.txt, a constraints file), after checking that it matches pyproject.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
DATA ?= ml-latest-small
MODEL_DIR ?= models
HOST ?= 127.0.0.1
PORT ?= 8000
UV_VERSION ?= 0.13.9

.PHONY: run serve train test lint lock check-lock test-latest check-serve bench screenshots clean

$(BIN)/python:
	@$(PYTHON) requirements/check_lock.py
	$(PYTHON) -m venv $(VENV)

check-lock:  ## the lock matches pyproject (one line and exit 1 when not)
	@$(PYTHON) requirements/check_lock.py

# What `make run` needs (trainer and API); `make test` adds the dev tools.
$(VENV)/.installed-run: pyproject.toml $(LOCK) | $(BIN)/python
	@$(PYTHON) requirements/check_lock.py
	$(BIN)/python -m pip install --upgrade "pip>=24"
	$(BIN)/python -m pip install -c $(LOCK) -e ".[train,serve]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(BIN)/python
	@$(PYTHON) requirements/check_lock.py
	$(BIN)/python -m pip install --upgrade "pip>=24"
	$(BIN)/python -m pip install -c $(LOCK) -e ".[dev]"
	touch $@ $(VENV)/.installed-run

# Trains only when MODEL_DIR/current is missing or cannot be served by this version (another
# schema after an upgrade, a damaged file); says why when it does.
run: $(VENV)/.installed-run  ## install, train on the bundled data if needed, serve on HOST:PORT
	$(BIN)/python -m training train --data $(DATA) --out $(MODEL_DIR) --if-missing
	MODEL_DIR=$(MODEL_DIR) HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m app

train: $(VENV)/.installed-run
	$(BIN)/python -m training train --data $(DATA) --out $(MODEL_DIR)

test: $(VENV)/.installed-dev  ## the whole suite (the README's test command)
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev  ## ruff (imports, bugbear, ...), mypy and bandit on the public code
	$(BIN)/ruff check .
	$(BIN)/mypy app training recommender_core
	$(BIN)/bandit -q -r app training recommender_core

lock: | $(BIN)/python  ## the lock from pyproject, pins kept where allowed (UPGRADE=--upgrade: newest)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-emit-package movielens-hybrid-recommender \
	  --custom-compile-command "make lock" $(UPGRADE) -o $(LOCK)

test-latest:  ## the suite on the newest versions pyproject allows, in .venv-latest (not CI)
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --upgrade pip
	.venv-latest/bin/python -m pip install --upgrade -e ".[dev]"
	.venv-latest/bin/python -m pytest -q

check-serve: $(VENV)/.installed-run  ## the API's own venv: no TensorFlow, under 600 MB, serves
	bash .ci/serve_only.sh

bench: $(VENV)/.installed-dev  ## serving benchmark against the trivial app (needs wrk)
	$(BIN)/python -m benchmarks.bench_serving --model-dir $(MODEL_DIR)

screenshots: $(VENV)/.installed-dev  ## the README's screenshots of the page (needs chromium)
	$(BIN)/python -m training train --data $(DATA) --out $(MODEL_DIR) --if-missing
	$(BIN)/python -m benchmarks.screenshots --model-dir $(MODEL_DIR) --out docs/img

clean:
	rm -rf $(VENV) .venv-latest .pytest_cache .ruff_cache .mypy_cache
