# Set-up and everyday commands. Each target creates .venv and installs what it needs the first time.
#   make demo       run every solution (fast), plots into outputs/
#   make test       the test suite (what CI runs, with make lint)
#   make lint       ruff check (configured in pyproject.toml)
#   make install    a contributor's set-up: requirements.txt and requirements-dev.txt
#   make benchmark  time the MNIST solutions to their thresholds (minutes; not a test)
#   make seeds      every solution on seeds 0-19 (fast) and 0-4 (full): tables in benchmarks/seeds (an hour or more; not in CI)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install demo full-demo test lint check list skeletons benchmark seeds clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/python -m seminar demo

full-demo: $(STAMP)
	$(BIN)/python -m seminar demo --full

# The tests spread over the cores (pytest-xdist); TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= auto
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(DEV_STAMP)
	$(BIN)/python -m ruff check .

list: $(STAMP)
	$(BIN)/python -m seminar list

check: $(STAMP)
	$(BIN)/python -m seminar check $(ID)

skeletons: $(STAMP)
	$(BIN)/python -m seminar build

benchmark: $(STAMP)
	$(BIN)/python benchmarks/mnist_speed.py

SEEDS_DIR ?= benchmarks/seeds
seeds: $(STAMP)
	$(BIN)/python -m seminar seeds --seeds 0-19 --csv-dir $(SEEDS_DIR) $(IDS)
	$(BIN)/python -m seminar seeds --full --seeds 0-4 --csv-dir $(SEEDS_DIR) $(IDS)

clean:
	rm -rf outputs .pytest_cache
