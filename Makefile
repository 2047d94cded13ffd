# Atende — `make run` serves the demo, `make test` runs the suite on both backends.
# GNU make. Nothing needs to be exported: the defaults are SQLite under instance/ and an
# in-process queue (see backoffice/config.py).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
TRANSLATIONS := backoffice/translations
CHROMIUM := /usr/bin/chromium

# Some machine images set PYTHONDONTWRITEBYTECODE: then every Python process (each test
# pass, and every web, worker and benchmark process the tests start) compiles the app's
# ~260 modules from source again, about 0.4 s of CPU each. Let them keep their bytecode
# (in __pycache__/, ignored by git).
unexport PYTHONDONTWRITEBYTECODE

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

.PHONY: help setup translations run test chromium nginx services cluster cluster-stop cluster-status cluster-test clean

help:
	@echo "make run    instala, migra o banco, carrega a empresa demo e sobe http://127.0.0.1:5000"
	@echo "make test   roda a suíte duas vezes: SQLite + fila embutida, depois PostgreSQL + Redis"
	@echo "make cluster       sobe o formato de produção: PostgreSQL + Redis, 2 web (gunicorn), 2 workers, nginx em http://127.0.0.1:8080"
	@echo "make cluster-stop  encerra exatamente os processos do cluster"
	@echo "make clean  apaga .venv e instance/"

# --- environment ---------------------------------------------------------------------

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Re-installed only when pyproject.toml changes. uv resolves and installs the same pinned
# packages as pip in about 15 s with their bytecode, where pip took a minute: that minute
# was the only serial part of every fresh `make test`. Plain pip stays the fallback (an
# index that serves pip but not uv, a machine where the uv wheel does not install).
UV_VERSION := 0.13.9
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@if $(BIN)/pip install -q 'uv==$(UV_VERSION)' \
		&& $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -e '.[test]'; then :; \
	else \
		echo "uv did not install the project: installing with pip"; \
		$(BIN)/pip install -e '.[test]'; \
	fi
	touch $@

# The catalogues (.po) are optional: compile them only when there are any.
translations: $(VENV)/.installed
	@if [ -n "$$(find $(TRANSLATIONS) -name '*.po' 2>/dev/null | head -n 1)" ]; then \
		$(BIN)/pybabel compile -f -d $(TRANSLATIONS); \
	fi

setup: $(VENV)/.installed translations

# --- run -----------------------------------------------------------------------------

run: setup
	$(FLASK) db upgrade
	$(FLASK) seed demo
	$(FLASK) reports rebuild
	$(BIN)/python app.py

# --- cluster (SCL-1): the production shape on one machine, not needed for `make run` ----
# PostgreSQL at CLUSTER_DATABASE_URL (default: database atende_cluster on 127.0.0.1,
# created when missing); a Redis server of its own on 6390. State and logs: instance/cluster/.

cluster: setup nginx
	$(BIN)/python deploy/cluster.py start

cluster-stop:
	@$(BIN)/python deploy/cluster.py stop

cluster-status:
	@$(BIN)/python deploy/cluster.py status

# Only the cross-process tests of tests/cluster (`make test` runs them too, beside its two passes).
cluster-test: setup nginx
	ATENDE_TEST_BACKEND=services $(BIN)/python -m pytest tests/cluster -q

# --- test ----------------------------------------------------------------------------

# Browser tests drive Debian's Chromium (`playwright install` cannot download here).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
				|| { echo "could not install chromium"; [ "$${CI:-}" != true ]; }; \
		else \
			echo "Chromium is missing: run 'sudo apt-get install -y chromium' (browser tests need $(CHROMIUM))"; \
			[ "$${CI:-}" != true ]; \
		fi; \
	fi

# The cluster's proxy (and the cluster tests of `make test`) use the distribution's nginx.
nginx:
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light) \
				|| { echo "could not install nginx"; [ "$${CI:-}" != true ]; }; \
		else \
			echo "nginx is missing: run 'sudo apt-get install -y nginx-light' (make cluster needs it)"; \
			[ "$${CI:-}" != true ]; \
		fi; \
	fi

# Under CI, start PostgreSQL and Redis if they are down. Failures are ignored here: the
# services tests themselves fail under CI=true when a service is missing.
services:
	@if [ "$${CI:-}" = true ]; then \
		pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
			|| pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql 2>/dev/null) main start \
			|| echo "could not start PostgreSQL"; \
		redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 \
			|| redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
			|| echo "could not start Redis"; \
	fi

# Two passes, run side by side (one per core): each has its own database and its own Redis
# db (the embedded pass uses real Redis only in the task-runner tests, on db 14; the services
# pass uses db 15). The browser tests run in the embedded pass, except those marked
# browser_on_services (the import's and the reports' pages, whose PostgreSQL paths differ
# most from SQLite's): they run in the services pass, which otherwise ended a minute before
# the embedded one and left a core idle. Beside them, the cross-process tests of tests/cluster (SCL-2) run as a
# third process: they start the cluster of deploy/cluster.py on ports 8180-8182 and 6391,
# with a database of their own (test_cluster), and spend most of their time waiting on
# killed and restarted processes, so they overlap the two passes instead of adding to the
# services pass. All always run to the end and any failing fails `make test`; each log is
# printed whole when all are done, then one summary line per pass.
test: setup chromium nginx
	@$(MAKE) --no-print-directory services; \
	log1=$$(mktemp); log2=$$(mktemp); log3=$$(mktemp); rc1=0; rc2=0; rc3=0; start=$$(date +%s); \
	summary() { grep -E '^=+ .* in [0-9.]+s' "$$1" | tail -n 1 | sed -E 's/^=+ //; s/ =+$$//' || echo "no pytest summary"; }; \
	echo "=== running pass 1 (embedded: SQLite + embedded queue, browser tests included), pass 2 (services: PostgreSQL + Redis, two browser test files) and the cluster tests (services) ==="; \
	ATENDE_TEST_BACKEND=embedded TEST_REDIS_URL=$${TEST_REDIS_URL_EMBEDDED:-redis://127.0.0.1:6379/14} \
		$(BIN)/python -m pytest --durations=15 -m "not cluster and not browser_on_services" >"$$log1" 2>&1 & p1=$$!; \
	ATENDE_TEST_BACKEND=services $(BIN)/python -m pytest --durations=15 -m "(not browser and not cluster) or browser_on_services" >"$$log2" 2>&1 & p2=$$!; \
	ATENDE_TEST_BACKEND=services $(BIN)/python -m pytest --durations=5 -m cluster tests/cluster >"$$log3" 2>&1 & p3=$$!; \
	wait $$p1 || rc1=$$?; wait $$p2 || rc2=$$?; wait $$p3 || rc3=$$?; \
	echo "=== pass 1/2: embedded (SQLite + embedded queue, browser tests included) ==="; cat "$$log1"; \
	echo "=== pass 2/2: services (PostgreSQL + Redis, the browser tests marked browser_on_services) ==="; cat "$$log2"; \
	echo "=== cluster tests (services: tests/cluster, real processes) ==="; cat "$$log3"; \
	s1=$$(summary "$$log1"); s2=$$(summary "$$log2"); s3=$$(summary "$$log3"); rm -f "$$log1" "$$log2" "$$log3"; \
	echo; \
	echo "embedded (SQLite + embedded queue): $$s1 [exit $$rc1]"; \
	echo "services (PostgreSQL + Redis):      $$s2 [exit $$rc2]"; \
	echo "cluster (tests/cluster):            $$s3 [exit $$rc3]"; \
	echo "all passes: $$(( $$(date +%s) - start )) s"; \
	[ $$rc1 -eq 0 ] && [ $$rc2 -eq 0 ] && [ $$rc3 -eq 0 ]

clean:
	rm -rf $(VENV) instance
