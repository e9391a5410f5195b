# Shortstack: `make local` runs the stack without Docker, `make test` runs every test but the
# Docker ones, `make test-compose` runs the real docker-compose.yml on a Docker engine.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt app/requirements.txt worker/requirements.txt ops/requirements.txt | cksum | cut -d' ' -f1)

# Debian packages installed when their command is missing, as command:package pairs.
LOCAL_PACKAGES := nginx:nginx-light redis-server:redis-server initdb:postgresql
BENCH_PACKAGES := $(LOCAL_PACKAGES) wrk:wrk
TEST_PACKAGES  := $(BENCH_PACKAGES) chromium:chromium promtool:prometheus

.PHONY: help deps test-deps local dev test test-compose test-swarm bench bench-compose demo audit clean \
        deploy rollback backup restore

help:
	@echo "make local         run nginx + REPLICAS app replicas + WORKERS click workers on http://127.0.0.1:\$${HTTP_PORT:-8080}"
	@echo "                   (GUNICORN_RELOAD=true: the replicas reload on a code change)"
	@echo "make dev           docker compose up with this checkout's code mounted: an edit shows on the next request"
	@echo "make test          install what is missing, then run every test that needs no Docker engine"
	@echo "make test-compose  the compose suite: the real docker-compose.yml on a Docker engine (started if none runs)"
	@echo "make test-swarm    the Swarm suite: swarm/docker-stack.yml on a 3-engine swarm made here (update, rollback, drain, node loss)"
	@echo "make bench         ceilings, worker classes, click ingest and both scaling experiments on the local stack (QUICK=1: about 3 minutes)"
	@echo "make bench-compose both scaling experiments against docker-compose.yml on a Docker engine"
	@echo "make demo          compose up, steady load, app scaled 1 -> 2 -> 4 -> 8 while you watch /cluster; saves a chart"
	@echo "make audit         known vulnerabilities in the pinned packages (skipped, saying so, without PyPI's JSON API)"
	@echo "make deploy        build this checkout (tagged with its git commit) and roll it over the running compose stack"
	@echo "make rollback      roll the version before the last deploy back out, the same way"
	@echo "make backup        a PostgreSQL dump of the running compose stack under backups/"
	@echo "make restore FILE=backups/<dump>  bring a dump back into the running compose stack"
	@echo "make deps          only install (Debian packages and the Python virtualenv)"

deps: PACKAGES = $(LOCAL_PACKAGES)
deps: system-packages $(STAMP)

test-deps: PACKAGES = $(TEST_PACKAGES)
test-deps: system-packages $(STAMP)

# PostgreSQL's binaries are not on PATH in Debian: /usr/lib/postgresql/*/bin counts too.
.PHONY: system-packages
system-packages:
	@missing=""; \
	for pair in $(PACKAGES); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/$$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
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

# The compose stack with the checkout's package mounted into the replicas and gunicorn reloading
# on change (docker-compose.dev.yml): edit a view or template, reload the page, no rebuild.
dev:
	docker compose -f docker-compose.yml -f docker-compose.dev.yml up --build

test: test-deps
	$(VENV)/bin/ruff check .
	$(PYTHON) -m pytest

# Engine, Compose v2 and (offline) stand-in images are set up by the suite itself; see tests/compose/.
test-compose: deps
	$(PYTHON) -m pytest tests/compose --timeout 900

# The compose suite's engine and stand-ins, made the manager of a swarm with two more engines in
# network namespaces (root only); it leaves the swarm at the end. What a run killed midway left
# (its swarm, engines, volumes) is removed at the start; a swarm it did not make stops it.
test-swarm: deps
	$(PYTHON) -m pytest tests/swarm --timeout 900

bench: PACKAGES = $(BENCH_PACKAGES)
bench: system-packages $(STAMP)
	$(PYTHON) -m loadtest.bench $(if $(QUICK),--quick)

bench-compose: deps
	bash tests/compose/engine.sh
	bash tests/compose/offline-images/build.sh
	$(PYTHON) -m loadtest.bench --compose $(if $(QUICK),--quick)

demo: deps
	bash tests/compose/engine.sh
	bash tests/compose/offline-images/build.sh
	$(PYTHON) -m loadtest.scaling_demo $(if $(STEPS),--steps $(STEPS)) $(if $(HTTP_PORT),--http-port $(HTTP_PORT))

# pip-audit reads PyPI's per-release JSON; where only the package index is reachable it would
# report every package as "not found" and pass, so that case is a clear skip instead. The address
# is pip's own default, not written here.
AUDIT_PROBE = $(shell $(PYTHON) -c "from pip._internal.models.index import PyPI; print(PyPI.pypi_url)")/flask/3.1.3/json
audit: $(STAMP)
	@if $(PYTHON) -c "import urllib.request; urllib.request.urlopen('$(AUDIT_PROBE)', timeout=10)" 2>/dev/null; then \
	  $(VENV)/bin/pip-audit --local --skip-editable --strict --progress-spinner off; \
	else \
	  echo "make audit: skipped, nothing was checked: $(AUDIT_PROBE) (PyPI's vulnerability data) is unreachable from here."; \
	fi

# Day-2 operations on the compose stack (docs/operations.md). They honour whatever compose reads
# (COMPOSE_PROJECT_NAME, HTTP_PORT, .env); VERSION deploys images already built under that tag.
# VERSION and FILE reach the command through the environment ("$$…"), never pasted into the
# shell line by make, so no value of theirs can run as a command.
deploy: $(STAMP)
	$(PYTHON) -m ops.deploy $(if $(VERSION),--version "$$VERSION")

rollback: $(STAMP)
	$(PYTHON) -m ops.deploy --rollback

backup: $(STAMP)
	$(PYTHON) -m ops.backup dump

restore: $(STAMP)
	$(PYTHON) -m ops.backup restore "$$FILE"

clean:
	rm -rf $(VENV) .pytest_cache
