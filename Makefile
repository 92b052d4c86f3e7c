# The course's commands. Everything runs in .venv, created on first use.
#   make lab        open the notebooks in JupyterLab (127.0.0.1, token authentication)
#   make test       unit tests + every notebook under nbval (+ browser tests where Chromium is found)
#   make nbval-baseline  nbval again with NumPy, OpenBLAS and torch held to their oldest x86 kernels
#   make notebooks  re-execute every notebook in place (the only way committed outputs are made);
#                   make notebooks NB="02 05" (numbers or paths) re-executes some of them
#   make slides     export every notebook as a reveal.js deck into slides/ that opens offline
#   make site       build the course as a static website into site/ that opens offline (site/index.html)
#   make bench      performance benchmarks against their targets (make bench QUICK=1: fewer repeats, no notebooks)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8888
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/notebooks/sanitize.cfg
# One pytest worker per CPU core (pytest-xdist); each test file stays on one worker, so a file's
# browser and JupyterLab fixtures start once.
PARALLEL := -n auto --dist loadfile
# The CPU's vector units held to the x86-64 baseline, on one thread: NumPy's SIMD dispatch (old and 2.4+ names),
# OpenBLAS's kernel and torch's. The last bits of exp, sums and products change; the outputs must not.
BASELINE_CPU := NPY_DISABLE_CPU_FEATURES="AVX2 FMA3 AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL \
	AVX512_ICL AVX512_SPR X86_V3 X86_V4" OPENBLAS_CORETYPE=Nehalem ATEN_CPU_CAPABILITY=default \
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Where JupyterLab reads the defaults an environment sets for its settings.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d
# JupyterLab refuses to run as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test unit nbval nbval-baseline notebooks slides site bench venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml $(wildcard jupyter-config/lab-settings/*.json)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt -e .
	@# RISE (live slides until 2026) pinned old widgets; its leftovers would clash with today's.
	$(PY) -m pip uninstall -y -q jupyterlab-rise jupyterlab-mathjax3 2>/dev/null || true
	@# The course's JupyterLab defaults (jupyter-config/README.md): saved notebooks keep their widgets.
	mkdir -p $(LAB_OVERRIDES) && cp jupyter-config/lab-settings/*.json $(LAB_OVERRIDES)/
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ROOT_FLAG)

test: $(STAMP)
	$(PY) -m pytest $(PARALLEL) tests notebooks $(NBVAL)

unit: $(STAMP)
	$(PY) -m pytest $(PARALLEL) tests -m "not browser"

nbval: $(STAMP)
	$(PY) -m pytest $(PARALLEL) notebooks $(NBVAL)

nbval-baseline: $(STAMP)
	$(BASELINE_CPU) $(PY) -m pytest $(PARALLEL) notebooks $(NBVAL)

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NB)

slides: $(STAMP)
	$(PY) tools/export_slides.py $(NB)

site: $(STAMP)
	$(PY) tools/build_site.py

bench: $(STAMP)
	$(PY) -m benchmarks $(if $(QUICK),--quick,) $(BENCH)

clean:
	rm -rf .pytest_cache .hypothesis
