# dingate — every target sets itself up first (virtualenv, MicroPython unix port, deps, build).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HTTP_PORT ?= 8080
CONTROL_PORT ?= 8081
STAMP := $(VENV)/.setup-done

.PHONY: setup run test test-ha test-core test-mp test-props test-integration bench soak build lint clean system-deps

setup: $(STAMP)

$(STAMP): pyproject.toml host/setup_deps.py host/system-packages.txt bench/wasm32/package.json
	bash host/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(PY) host/setup_deps.py
	touch $(STAMP)

build: setup
	$(VENV)/bin/dingate build --board emulator

run: build
	$(VENV)/bin/dingate emulate --http-port $(HTTP_PORT) --control-port $(CONTROL_PORT)

# Pure-logic core: the same test modules under CPython (pytest) and the MicroPython unix port.
test-core: setup
	$(PY) -m pytest -q tests/core
	$(PY) -m dingate.testing.mp_core

test-props: setup
	$(PY) -m pytest -q tests/props

test-integration: build
	$(PY) -m pytest -q tests/integration

test: build lint
	@echo "== core tests on CPython =="
	$(PY) -m pytest -q tests/core
	@echo "== core tests on MicroPython (unix port) =="
	$(PY) -m dingate.testing.mp_core
	@echo "== property, fuzz and integration tests (CPython driving the emulator) =="
	$(PY) -m pytest -q tests/props tests/integration

# Home Assistant end to end (its own virtualenv .venv-ha, installed here; a few minutes)
test-ha: build
	$(PY) -m dingate.testing.homeassistant install
	$(PY) -m pytest -q tests/ha

lint: setup
	$(VENV)/bin/ruff check firmware host tests bench

bench: build
	$(PY) -m bench

# 30 minutes of a gateway's life in the emulator (the emulator board; tests/integration/test_soak.py; make test runs 3)
soak: build
	DINGATE_SOAK_S=1800 $(PY) -m pytest -q -rxX tests/integration/test_soak.py

clean:
	rm -rf build .dingate
