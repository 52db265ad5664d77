# Two entry points for a fresh machine; each sets up what it needs itself.
#   make test   create .venv, install torch 2.13.0 (CPU) first, the package with
#               its test extras, then run the whole test suite.
#   make run    the same setup, then the main job: DCRNN training with
#               index-batching on the shipped Chickenpox data.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup test run clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

run: $(STAMP)
	$(PY) scalability_testing/chicken_pox_main.py --mode index --out-dir runs/chickenpox --overwrite

clean:
	rm -rf $(VENV) runs *.egg-info
