# The README's commands. `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format seed clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

.env:
	cp .env.example .env

install: $(STAMP) .env

# The embedded default: SQLite for data, and a Celery worker with beat whose
# broker is an SQLite file too (no Redis needed), stopped with the server.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "COE Tracker at http://$(HOST):$(PORT)/  (log in as reviewer, approver, leader or admin; password: demo)"
	@echo "Reminders: a Celery worker with beat runs alongside; mail is written to sent-mail/"
	@$(BIN)/celery -A coe worker -B --pool=solo --loglevel=WARNING --schedule .celerybeat-schedule & \
	  worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

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
	rm -rf $(VENV) db.sqlite3 celery-broker.sqlite3 .celerybeat-schedule* staticfiles test-artifacts sent-mail

# The benchmark (not part of `make test`): 100,000 incidents in a PostgreSQL database of its own
# (coe_bench on DATABASE_URL's server, or BENCH_DATABASE_URL), generated once and reused, served by
# gunicorn and measured against floor views in the same run. See bench/run.py for the settings.
bench: install
	$(BIN)/python -m bench.run
