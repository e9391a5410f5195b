# Shortstack: `make local` runs the stack without Docker, `make test` runs every test.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt app/requirements.txt | cksum | cut -d' ' -f1)

.PHONY: help deps system-deps local test bench clean

help:
	@echo "make local   run nginx + REPLICAS app replicas + WORKERS click workers on http://127.0.0.1:\$${HTTP_PORT:-8080}"
	@echo "make test    install what is missing, then run the whole test suite"
	@echo "make bench   scaling experiment against the local stack (QUICK=1: under 2 minutes)"
	@echo "make deps    only install (Debian packages and the Python virtualenv)"

deps: system-deps $(STAMP)

# nginx, PostgreSQL and Redis for the local runner and the tests, Chromium for the browser tests
# (Debian package names).
system-deps:
	@missing=""; \
	command -v nginx >/dev/null 2>&1 || missing="$$missing nginx-light"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "Missing:$$missing. Install them with: sudo apt-get install -y$$missing"; exit 2; fi; \
	  echo "Installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; \
	fi

$(STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

local: deps
	$(PYTHON) -m local_stack

test: deps
	$(PYTHON) -m pytest

bench: deps
	$(PYTHON) -m loadtest.bench $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .pytest_cache
