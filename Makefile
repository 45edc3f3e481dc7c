# The two commands a newcomer runs: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Real servers the test suite starts by itself (see tests/servers.py).
# fonts-noto-cjk: Chromium draws the pages' Korean (and the kiosk's Chinese) instead of boxes.
# postgresql: the server (initdb, postgres) sits under /usr/lib/postgresql/<major>/bin, the major
# being whatever Debian's `postgresql` pulls in; the shell expands the pattern, and an unmatched one
# counts as missing. (/usr/bin/psql or pg_config would not do: the client and libpq-dev have them.)
# faketime runs a gateway on a clock a year ahead in bench/bench_faults.py.
# nodejs, npm: the official MicroPython WebAssembly build (npm) runs the firmware's asyncio code
# on the real MicroPython VM (tests/mpvm, tests/unit/test_firmware_vm.py).
APT_PACKAGES := mosquitto influxdb victoria-metrics chromium fonts-noto-cjk postgresql faketime nodejs npm
APT_FILES := /usr/sbin/mosquitto /usr/bin/influxd /usr/bin/victoria-metrics /usr/bin/chromium \
             /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc /usr/lib/postgresql/*/bin/postgres \
             /usr/bin/faketime /usr/bin/node /usr/bin/npm
MPVM := tests/mpvm/node_modules/.installed

.PHONY: demo test test-unit test-e2e bench venv system-deps clean

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The MicroPython VM for the firmware tests, pinned by tests/mpvm/package-lock.json.
$(MPVM): tests/mpvm/package.json tests/mpvm/package-lock.json
	cd tests/mpvm && npm ci --no-audit --no-fund
	touch $@

# Installs the Debian packages of the real servers when one is missing.
# As root this runs apt-get; otherwise it stops and names the packages.
system-deps:
	@missing=""; for b in $(APT_FILES); do [ -e $$b ] || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(APT_PACKAGES) (missing:$$missing)"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	  else \
	    echo "missing:$$missing -- run: sudo apt-get install $(APT_PACKAGES)"; exit 1; \
	  fi; \
	fi

demo: $(STAMP)
	$(VENV)/bin/sewnet demo

# The import contracts (pyproject.toml, [tool.importlinter]) first: a wrong import fails in a second, not after the suite.
test: $(STAMP) system-deps $(MPVM)
	$(VENV)/bin/lint-imports
	$(VPY) -m pytest -q -ra tests

test-unit: $(STAMP) $(MPVM)
	$(VPY) -m pytest -q -ra tests/unit

# bench/_*.py are the benches' shared parts, not benches.
bench: $(STAMP) system-deps
	for b in bench/*.py; do case "$${b##*/}" in _*) continue;; esac; echo "== $$b"; $(VPY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
