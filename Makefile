# Two commands for a fresh machine: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Offline by design: nothing may reach a model hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export RAY_AUTH_MODE := disabled
export RAY_USAGE_STATS_ENABLED := 0
export TOKENIZERS_PARALLELISM := false
# Idle OpenMP threads sleep instead of spinning (contracts/env.py says why); yours wins if set.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test bench install clean mutation

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[test]" --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lumina demo

# Three pytest workers on 2 cores: the suite waits a lot (servers starting, subprocesses, Ray), and a
# third worker fills those waits: 3,622 tests on an AMD EPYC 2-core host, 2026-12-07: 1,012 s with 2
# workers, 926 s and 928 s with 3 (CPU 23.5 min either way); 983-1,003 s later the same night, on a
# host ~20% slower by the same imports. The end-to-end tests that share a Prefect
# server stay on one worker (xdist_group). PYTEST_WORKERS=0 runs in one process; PYTEST_ARGS adds
# flags, e.g. -k or -m.
PYTEST_WORKERS ?= 3
PYTEST_ARGS ?=
test: $(STAMP)
	$(PY) -m pytest -q -ra --durations=15 -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/bench_training.py
	$(PY) bench/bench_catalog.py

# Not part of `make test`: mutmut over the modules in bench/mutation/modules.toml, report in
# bench/mutation/REPORT.md (~60 CPU-min: about 35 min on 2 free cores); MODULES="flag_dit ..." for some
# (their report goes to runs/mutation/REPORT-partial.md: the committed one covers every module).
mutation: $(STAMP)
	$(PY) -c "import mutmut" 2>/dev/null || $(PY) -m pip install --quiet "mutmut==3.8.1"
	$(PY) bench/mutation/run.py $(MODULES)

clean:
	rm -rf $(VENV) runs lumina_home
