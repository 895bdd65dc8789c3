# posekit: `make demo` and `make test` set everything up themselves (a venv in .venv).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: setup
	$(VENV)/bin/posekit demo

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_decode.py
