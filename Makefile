# Everyday commands. A fresh clone needs only Python 3.11+ and make: each target
# creates the virtualenv in .venv and installs into it when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
PYTEST_ARGS ?=
RUN_ADDRESS ?= 127.0.0.1:8000

# Stamp files record what was installed; they go stale when pyproject.toml changes.
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: help run test lint worker beat install clean

help:
	@echo "make run     migrate, load the demo data and serve on http://$(RUN_ADDRESS)/"
	@echo "make test    run the test suite (PYTEST_ARGS='...' passes options to pytest)"
	@echo "make lint    ruff check"
	@echo "make worker  Celery worker (needs CELERY_BROKER_URL)"
	@echo "make beat    Celery beat (needs CELERY_BROKER_URL)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "carlit needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

# The test extras include everything the run target needs, so both stamps are fresh.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	@touch $@ $(RUN_STAMP)

install: $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver $(RUN_ADDRESS)

test: $(TEST_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

worker: $(RUN_STAMP)
	$(BIN)/celery -A carlit worker --loglevel=INFO

beat: $(RUN_STAMP)
	$(BIN)/celery -A carlit beat --loglevel=INFO --schedule $(VENV)/celerybeat-schedule

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
