# omero-mail: `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEV_CONFIG ?= etc/omero-mail.dev.properties
SINK_PORT ?= 8025
WEB_PORT ?= 4080

.PHONY: run test bench venv clean sink

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,web,webapp]'
	touch $@

# Development: the topology declared, then one process (consumer/admin/devrun.py) with a local
# SMTP sink filing mails under var/mail/, the web app on WEB_PORT and the consumer in the foreground. Ctrl-C, or
# SIGTERM to make (which passes it on), stops both; a busy SINK_PORT stops it at once.
run: venv
	mkdir -p var/senders
	test -e var/senders/mail-senders.xml || cp etc/mail-senders.example var/senders/mail-senders.xml
	$(BIN)/omero-mail --config $(DEV_CONFIG) declare
	$(BIN)/python -m consumer.admin.devrun --port $(SINK_PORT) --web-port $(WEB_PORT) --maildir var/mail --config $(DEV_CONFIG)

# The web app's browser tests drive Debian's Chromium through its ChromeDriver (never a browser
# downloaded at test time); both come from the OS packages.
CHROMEDRIVER ?= /usr/bin/chromedriver
$(CHROMEDRIVER):
	apt-get install -y --no-install-recommends chromium chromium-driver \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver)

# The reverse proxy tests put Debian's nginx, with a self-signed certificate, in front of the web app.
NGINX ?= /usr/sbin/nginx
$(NGINX):
	apt-get install -y --no-install-recommends nginx-light openssl \
		|| (apt-get update && apt-get install -y --no-install-recommends nginx-light openssl)

# Lint and types first (configured in pyproject.toml), then the tests.
test: venv $(CHROMEDRIVER) $(NGINX)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# README's pictures of the web app's pages (docs/screenshots/), taken by its browser tests.
.PHONY: screenshots
screenshots: venv $(CHROMEDRIVER)
	WEBAPP_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/test_web_*.py

# The chaos run (tests/chaos; README, "Chaos run"): 15 minutes of faults on a RabbitMQ cluster of
# its own, then the checker. CHAOS_SEED=N replays a run; CHAOS_MINUTES=M changes its length.
CHAOS_MINUTES ?= 15
.PHONY: chaos
chaos: venv
	$(BIN)/python -m tests.chaos --minutes $(CHAOS_MINUTES) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

# The benchmark (RabbitMQ on localhost:5672 and rabbitmqctl needed): prints figures, asserts nothing.
# Its peers (the bench extra: Celery, Dramatiq) and py-spy for its profiles go into the venv first;
# `python -m bench` without them prints that they are skipped.
bench: venv $(VENV)/.bench
	$(BIN)/python -m bench

$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench]' py-spy
	touch $@

clean:
	rm -rf $(VENV) var *.egg-info
