# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv by itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# roomgate needs Python 3.11 or newer.
NEEDS  := import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
VERSION = $$($(1) -c 'import platform; print("Python", platform.python_version())' 2>/dev/null || echo "not a Python that runs")

.PHONY: demo test lint bench clean venv-check

# A new .venv, refused (and removed, so no later run reuses it) when $(PYTHON) is too old.
$(BIN)/python:
	@$(PYTHON) -c '$(NEEDS)' 2>/dev/null || { \
	  echo "roomgate needs Python 3.11 or newer; '$(PYTHON)' is $(call VERSION,$(PYTHON))." \
	       "Try: make demo PYTHON=python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "could not make $(VENV) (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip

# An existing .venv that cannot run, or runs an old Python (made before, or by hand): say what to do.
venv-check: | $(BIN)/python
	@$(BIN)/python -c '$(NEEDS)' 2>/dev/null || { \
	  echo "$(VENV) is broken or older than Python 3.11 ($(call VERSION,$(BIN)/python)):" \
	       "run 'make clean', then 'make demo' (PYTHON=python3.11 if python3 is older)" >&2; exit 1; }

# Stamps: reinstall only when pyproject.toml changes. The demo gets the studio and the plot.
$(VENV)/.installed-run: pyproject.toml | venv-check
	$(BIN)/python -m pip install -q -e '.[studio,plot]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | venv-check
	$(BIN)/python -m pip install -q -e '.[test,studio,plot]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/roomgate demo -o demo-out
	@echo
	@echo "roomgate is installed in $(VENV). Put it on your PATH in this shell with:"
	@echo
	@echo "    . $(VENV)/bin/activate"
	@echo
	@echo "then try: roomgate --help, roomgate render demo-out/dry.wav -o heroes.wav, roomgate studio"

# The type check first (seconds), then the suite.
test: lint
	$(BIN)/python -m pytest -n auto

lint: $(VENV)/.installed-test
	$(BIN)/python -m mypy

bench: $(VENV)/.installed-test
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis
