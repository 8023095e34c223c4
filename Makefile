# omero-mail: `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEV_CONFIG ?= etc/omero-mail.dev.properties
SINK_PORT ?= 8025

.PHONY: run test bench venv clean sink

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,web]'
	touch $@

# Development: a local SMTP sink filing mails under var/mail/, the topology declared,
# the consumer in the foreground. Ctrl-C stops both.
run: venv
	mkdir -p var/senders
	test -e var/senders/mail-senders.xml || cp etc/mail-senders.example var/senders/mail-senders.xml
	$(BIN)/omero-mail --config $(DEV_CONFIG) declare
	$(BIN)/omero-mail sink --port $(SINK_PORT) --maildir var/mail & sink=$$!; \
	trap 'kill $$sink 2>/dev/null' EXIT INT TERM; \
	$(BIN)/omero-mail --config $(DEV_CONFIG) consume

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (RabbitMQ on localhost:5672 and rabbitmqctl needed): prints figures, asserts nothing.
bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var *.egg-info
