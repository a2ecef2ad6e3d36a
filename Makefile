# The README's commands. `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run stop-db test lint format seed clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

.env:
	cp .env.example .env

install: $(STAMP) .env

# The embedded default: with DATABASE_URL unset, a project-local PostgreSQL (coe/local_postgres.py,
# data in .pgdata/, started on first use and kept running; `make stop-db` stops it); with REDIS_URL
# unset, a Celery worker with beat whose broker is a folder of files (.local/), stopped with the server.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "COE Tracker at http://$(HOST):$(PORT)/  (log in as reviewer, approver, leader or admin; password: demo)"
	@echo "Reminders and dashboard refreshes: a Celery worker with beat runs alongside; mail is written to sent-mail/"
	@$(BIN)/celery -A coe worker -B --pool=solo --loglevel=WARNING --schedule .local/celerybeat-schedule & \
	  worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

stop-db: install
	$(BIN)/python -m coe.local_postgres stop

seed: install
	$(BIN)/python manage.py seed_demo

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	-test -x $(BIN)/python && $(BIN)/python -m coe.local_postgres stop
	rm -rf $(VENV) .pgdata .local staticfiles test-artifacts sent-mail

# The benchmark (not part of `make test`): 100,000 incidents in a PostgreSQL database of its own
# (coe_bench on DATABASE_URL's server, or BENCH_DATABASE_URL), generated once and reused, served by
# gunicorn and measured against floor views in the same run. See bench/run.py for the settings.
bench: install
	$(BIN)/python -m bench.run
