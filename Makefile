# Every target bootstraps what it needs: a fresh clone needs only Python 3.11, pip, make and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MLOPS := $(BIN)/python -m mlops
TOOLS := .tools
CHECKOV_STAMP := $(TOOLS)/checkov/.installed
TIME_BUDGET ?= 60
FULL ?=
# The lock tool: make lock resolves with it, make venv installs the lock with it (the same
# version, by hash, from requirements-bootstrap.txt; tests/test_pins.py holds the two equal).
LOCK_TOOL := uv==0.13.8
UPGRADE ?=

.PHONY: help venv train test lint validate serve bench check-infra lock clean

help:
	@echo "make train        train, evaluate and register a model on the committed sample (local twin)"
	@echo "make test         lint, validate every Azure-facing file, run the test suite"
	@echo "make lint         ruff check, ruff format --check, mypy (strict on taxi_fare)"
	@echo "make validate     offline checks of Azure ML specs, Azure DevOps YAML and config"
	@echo "make serve        serve the dev champion on 127.0.0.1 with the Azure ML inference server"
	@echo "make bench        benchmarks (FULL=1 for 10 million rows); writes bench/results.json"
	@echo "make check-infra  checkov over the Terraform and Bicep stacks"
	@echo "make lock         re-resolve requirements.in into requirements.lock (hashes; UPGRADE=1 for newest)"

venv: $(STAMP)

# pip bootstraps pip and uv by hash; uv installs the lock (every file checked against its
# sha256, as pip --require-hashes did, downloads and installs in parallel) and removes what
# the lock no longer names; pip then adds the editable project and checks the set.
# --compile-bytecode writes the .pyc files pip wrote: without them every process of the suite
# compiles what it imports again where PYTHONDONTWRITEBYTECODE is set (as on these machines).
$(STAMP): requirements.lock requirements-bootstrap.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
	  -r requirements-bootstrap.txt
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes \
	  requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

train: $(STAMP)
	$(MLOPS) train --data data/sample --trainer automl --time-budget $(TIME_BUDGET)

test: lint
	$(MLOPS) validate
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=15

# The same checks as .pre-commit-config.yaml.
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

validate: $(STAMP)
	$(MLOPS) validate

serve: $(STAMP)
	$(MLOPS) serve --env dev

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(FULL),--full,)

$(CHECKOV_STAMP): infrastructure/checkov-requirements.txt
	test -x $(TOOLS)/checkov/bin/python || $(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r infrastructure/checkov-requirements.txt
	touch $@

# checkov exits 0 on a file it cannot parse (the file goes unscanned): the JSON pass fails on that.
check-infra: $(CHECKOV_STAMP)
	$(TOOLS)/checkov/bin/checkov --quiet --compact --config-file infrastructure/.checkov.yaml
	$(TOOLS)/checkov/bin/checkov --config-file infrastructure/.checkov.yaml --output json 2>/dev/null \
	  | $(PYTHON) infrastructure/tools/checkov_parsing.py

# Versions already in requirements.lock are kept (uv prefers the output file's pins) unless
# requirements.in moves them or UPGRADE=1; every wheel and sdist of a pin gets its sha256.
# The lock tool itself comes by hash, from the file make venv bootstraps with.
lock:
	test -f $(TOOLS)/lock/.$(LOCK_TOOL) || { rm -rf $(TOOLS)/lock && $(PYTHON) -m venv $(TOOLS)/lock \
	  && $(TOOLS)/lock/bin/python -m pip install --quiet --disable-pip-version-check \
	  --require-hashes -r requirements-bootstrap.txt && touch $(TOOLS)/lock/.$(LOCK_TOOL); }
	$(TOOLS)/lock/bin/uv pip compile requirements.in --quiet --generate-hashes \
	  --python-version 3.11 --python-platform linux $(if $(UPGRADE),--upgrade,) \
	  --custom-compile-command "make lock" --output-file requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS) .mlops .pytest_cache .ruff_cache .mypy_cache
