# suishoupai: `make run` starts the whole system locally, `make test` runs every test tier.
# Both create the virtualenv and install what they need on first use.

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Prefer Python 3.12 (the Lambda runtime the template pins); fall back to python3.
PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3; do \
	"$$p" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
STAMP := $(VENV)/.installed

.PHONY: run test install system-deps lint format bench package screenshots clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash devstack/system-deps.sh

run: install
	bash devstack/system-deps.sh run
	$(BIN)/python -m devstack run

# Every tier in turn (lint; unit + API beside the front end; integration beside the whole
# stack and the mini-program build), isolated tests on both cores; ends with a table of
# each tier's wall time. `make test TIERS="api integration"` runs only those;
# SSP_TEST_WORKERS=1 runs the pytest tiers serially.
test: install system-deps
	$(BIN)/python -m tests.tiers $(TIERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The README's screenshots (docs/screenshots/), from a run of the browser tier.
screenshots: install system-deps
	$(BIN)/python -m pytest tests/browser -q -p no:cacheprovider
	$(BIN)/python -m devstack.docs_screenshots

bench: install
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/frontend.py

package: install
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-east-1} $(BIN)/chalice package \
		--stage $${STAGE:-prod} --merge-template .chalice/resources-$${STAGE:-prod}.json build/$${STAGE:-prod}

clean:
	rm -rf $(VENV) .cache build .pytest_cache .ruff_cache
