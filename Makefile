# `make run` and `make test` work on a fresh clone: both install first.
VENV := .venv
PYTHON ?= python3
FLASK := $(VENV)/bin/flask --app app
DEV_ENV := NEWSLETTER_ENV=development

.PHONY: install run test worker serve serve-worker serve-beat translations clean

install: $(VENV)/.installed translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d translations

run: install
	$(DEV_ENV) $(FLASK) db upgrade
	$(DEV_ENV) $(FLASK) demo
	@echo "Serving on http://127.0.0.1:5000 (mail goes to instance/outbox/, readable at /admin/outbox)"
	$(DEV_ENV) $(FLASK) run --host 127.0.0.1 --port 5000

worker: install
	$(DEV_ENV) $(FLASK) worker

# Production, one command per service (deploy/ has the systemd units and a Procfile). Settings come from the
# environment or .env: DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY, BASE_URL, MAIL_*.
serve: install
	$(FLASK) db upgrade
	$(VENV)/bin/gunicorn --config deploy/gunicorn.conf.py

serve-worker: install
	$(VENV)/bin/celery -A newsletter.tasks worker --loglevel INFO

serve-beat: install
	mkdir -p instance
	$(VENV)/bin/celery -A newsletter.tasks beat --loglevel INFO --schedule instance/celerybeat-schedule

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
