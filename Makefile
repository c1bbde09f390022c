# Every target bootstraps what it needs: a .venv with the project installed (editable, dev extra).
# A newcomer types `make demo` or `make test` and nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODES ?= 3
RUNTIME ?= auto
USERS ?= 50
SPAWN_RATE ?= 10
DURATION ?= 60s
INTERVAL ?= 5
COUNT ?= 3
SIGNAL ?= KILL
# HA=1: Redis as 1 primary + 2 replicas + 3 sentinels (cluster up --ha); TARGET: chaos-kill --target
HA ?=
TARGET ?=
LOAD_HOST ?= http://127.0.0.1:8080
TLS ?= 0
# TLS=1: the local runtime's self-signed pair and HTTPS on the balancer's port (auto means local).
up_runtime = $(if $(and $(filter 1,$(TLS)),$(filter auto,$(RUNTIME))),local,$(RUNTIME))
SCENARIO ?= chaos

.DEFAULT_GOAL := help
.PHONY: help venv test lint fmt demo failover cluster-up cluster-down cluster-status load chaos \
        bench-balancer bench-node paradox images clean fullspeed docs bench-overload \
        bloat csrf compare tls bench-scale bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "error: could not create $(VENV); install Python 3.11+ with venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)  ## create .venv and install the project with its dev extra

test: $(STAMP)  ## the whole test suite (unit, service, cluster, docker)
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff (lint + format check), mypy, and the layering contract (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: $(STAMP)  ## render docs/settings.md from the settings each service declares
	$(BIN)/python -m cluster.settings_doc > docs/settings.md

fmt: $(STAMP)  ## format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(STAMP)  ## cluster up, load, chaos, report, verify, cluster down (SCENARIO=scale: 2 → 4 → 2 nodes at full load)
	@if [ "$(SCENARIO)" = scale ]; then \
	  $(BIN)/python -m loadtest.scale_demo $(SCALE_ARGS); \
	else \
	  if [ "$(RUNTIME)" = docker ]; then compose/images.sh; fi; \
	  $(BIN)/python -m loadtest.demo --nodes $(NODES) --users $(USERS) --spawn-rate $(SPAWN_RATE) --duration $(DURATION); \
	fi

# On Docker the images come first: `make images` takes seconds when they are up to date.
uses_docker = [ "$(RUNTIME)" = docker ] || { [ "$(RUNTIME)" = auto ] && docker info >/dev/null 2>&1; }

cluster-up: $(STAMP)  ## start Redis, NODES nodes and the balancer (RUNTIME=auto|local|docker, HA=1, TLS=1)
	@if [ "$(TLS)" != 1 ] && $(uses_docker); then compose/images.sh; fi
	$(BIN)/cluster up --nodes $(NODES) --runtime $(up_runtime)$(if $(filter 1 yes on true,$(HA)), --ha)$(if $(filter 1,$(TLS)), --tls)

cluster-down: $(STAMP)  ## stop everything cluster-up started
	$(BIN)/cluster down --runtime $(RUNTIME)

cluster-status: $(STAMP)  ## what runs, where, healthy or not
	$(BIN)/cluster status --runtime $(RUNTIME)

load: $(STAMP)  ## Locust headless against the balancer (USERS, SPAWN_RATE, DURATION)
	@out=reports/load-$$(date +%Y%m%d-%H%M%S); mkdir -p $$out; \
	  LOAD_ACK_FILE=$$out/acks.jsonl LOAD_SUMMARY_FILE=$$out/summary.json \
	  $(BIN)/locust -f loadtest/locustfile.py --headless -u $(USERS) -r $(SPAWN_RATE) -t $(DURATION) \
	    --host $(LOAD_HOST) \
	    --csv $$out/locust --csv-full-history --html $$out/locust.html --only-summary; \
	  rc=$$?; echo "load report: $$out/locust.html"; exit $$rc

chaos: $(STAMP)  ## chaos-kill against the running cluster (INTERVAL, COUNT, SIGNAL)
	@mkdir -p reports
	$(BIN)/chaos-kill --runtime $(RUNTIME) --interval $(INTERVAL) --count $(COUNT) --signal $(SIGNAL) \
	  --restart-after 2 --events reports/chaos.jsonl$(if $(TARGET), --target $(TARGET))

failover: $(STAMP)  ## the Redis primary killed under load, with and without WAIT (RUNTIME=local|docker)
	@if [ "$(RUNTIME)" = docker ]; then compose/images.sh; fi
	$(BIN)/python -m loadtest.failover --runtime $(if $(filter auto,$(RUNTIME)),local,$(RUNTIME)) $(FAILOVER_ARGS)

fullspeed: $(STAMP)  ## wrk at full speed while nodes are killed, terminated, frozen (RUNTIME=local|docker)
	@if [ "$(RUNTIME)" = docker ]; then compose/images.sh; fi
	$(BIN)/python -m loadtest.fullspeed.run --runtime $(if $(filter auto,$(RUNTIME)),local,$(RUNTIME)) $(FULLSPEED_ARGS)

# One command for every benchmark; BENCH_ARGS are the suite's (--quick, --parts, --part-args).
bench: $(STAMP)  ## node, balancer, scale, overload in one run: reports/bench.json and bench.md
	$(BIN)/python -m loadtest.bench.suite $(BENCH_ARGS)

bench-balancer: $(STAMP)  ## this balancer vs HAProxy (and nginx) vs direct, same load generator
	$(BIN)/python -m loadtest.bench.balancer $(BENCH_ARGS)

bench-node: $(STAMP)  ## one node (JWT GET /whoami, /healthz) next to a bare aiohttp handler
	$(BIN)/python -m loadtest.bench.node $(BENCH_ARGS)

bench-scale: $(STAMP)  ## throughput at 1-4 CPU-limited nodes (cgroup quota; BENCH_ARGS="--runtime docker": containers, --cpus), this balancer and HAProxy
	$(BIN)/python -m loadtest.bench.scale $(BENCH_ARGS)

bench-overload: $(STAMP)  ## logins offered vs served (capacity curve), this balancer vs HAProxy's queue
	$(BIN)/python -m loadtest.bench.overload $(BENCH_ARGS)

paradox: $(STAMP)  ## the revocation modes measured side by side
	$(BIN)/paradox $(PARADOX_ARGS)

# Its own defaults (40 s per variant, 20 users) unless DURATION or USERS is given.
compare: $(STAMP)  ## stateless vs the stateful twin, sticky and not: same load, chaos, scale-out
	$(BIN)/python -m loadtest.compare.run --nodes $(NODES) \
	  $(if $(filter command line environment,$(origin DURATION)),--duration $(DURATION)) \
	  $(if $(filter command line environment,$(origin USERS)),--users $(USERS))

bloat: $(STAMP)  ## fat JWTs (0-1000 roles) vs the lean token + profile from Redis; where each breaks
	$(BIN)/python -m loadtest.bloat.run $(BLOAT_ARGS)

csrf: $(STAMP)  ## Cookie vs Bearer in headless Chromium, against an attacker page on another site
	$(BIN)/python -m loadtest.csrf.run

tls: $(STAMP)  ## TLS 1.2/1.3 full vs resumed handshakes at the balancer; a session across a restart
	$(BIN)/python -m loadtest.tls.run $(TLS_ARGS)

images:  ## build the container images (official base, or offline when no registry answers)
	@compose/images.sh

clean:  ## remove the venv, run files and reports
	rm -rf $(VENV) .cluster reports .pytest_cache .mypy_cache .ruff_cache
