# RoboVLA: `make demo` runs the product on the embedded default (MuJoCo sim), `make test` runs
# every test. Both run `make setup` first, which installs everything it needs (idempotent).
SHELL := /bin/bash
ENV := source scripts/env.sh && export PYTHONPATH=$(CURDIR)/src:$$PYTHONPATH
PYTEST_ARGS ?=

.PHONY: setup build test test-fast demo bench clean help
help:
	@echo "make setup | test | demo | bench | clean"

setup:
	@bash scripts/setup.sh

build: setup

test: setup
	@$(ENV) && python -m pytest test $(PYTEST_ARGS)

demo: setup
	@$(ENV) && python -m robovla.demo

bench: setup
	@$(ENV) && for b in bench/bench_*.py; do echo "== $$b"; python $$b || exit 1; done

clean:
	rm -rf build install log .venv
