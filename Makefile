# agileml: `make run` trains and records one run; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DATA_HOME ?= $(abspath ../shared/data)
# Registry datasets come from AGILEML_DATA_HOME; default it to the shared benchmark data when it is beside the checkout.
ifneq ($(wildcard $(DATA_HOME)),)
export AGILEML_DATA_HOME ?= $(DATA_HOME)
endif

.PHONY: setup run test audit browser compare lab ui serve bench constraints clean docs

$(INSTALLED): settings.ini setup.py constraints.txt etc/jupyter/jupyter_server_config.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv installs the same pinned set as pip would, in about 40 s instead of 2-3 min (BENCHMARKS.md, "make test")
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip check
	# Jupyter from this venv saves a notebook as git keeps it: nbdev's clean, then no outputs, tags kept (agileml.lab.clean_on_save)
	mkdir -p $(VENV)/etc/jupyter && cp etc/jupyter/jupyter_server_config.json $(VENV)/etc/jupyter/
	touch $@

setup: $(INSTALLED)  ## create .venv and install agileml with its dev extras

run: $(INSTALLED)  ## train on the offline default dataset through papermill and record the run
	$(BIN)/agileml train

audit: $(INSTALLED)  ## technical debt: dead experiment code, orphan modules, notebooks unclean or out of sync, configuration debt, glue; ML Test Score
	$(BIN)/agileml audit

browser:  ## Debian's Chromium and its driver, which the JupyterLab test drives (installed with apt-get when missing)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  { echo "the JupyterLab test needs Debian's chromium and chromium-driver: run 'apt-get install chromium chromium-driver' as root"; exit 1; }

test: audit browser  ## every check: the audit (incl. clean/sync), nbdev_test with slow cells, pytest (incl. papermill smoke runs)
	AGILEML_SPARE_KERNEL=0 $(BIN)/nbdev_test --n_workers 2 --flags slow
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 tests

lab: $(INSTALLED)  ## JupyterLab on nbs/ (started in nbs/: nbdev's save hook reads notebook paths from where the server runs)
	cd nbs && ../$(BIN)/jupyter lab --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

ui: $(INSTALLED)  ## MLflow's UI on http://127.0.0.1:5000 over the project's store (or MLFLOW_TRACKING_URI), opened on agileml's runs with their scores
	$(BIN)/agileml ui --port $${PORT:-5000}

serve: $(INSTALLED)  ## the prediction service on http://127.0.0.1:8000 over the champion (docs at /docs; the curator page at /curate with AGILEML_SERVE_TOKEN set)
	$(BIN)/agileml serve

compare: $(INSTALLED)  ## the sweep "bag-of-words or word2vec?" on SMS Spam; its report goes to docs/compare/
	$(BIN)/agileml sweep -p dataset=sms_spam -p features=tfidf,word2vec,tfidf+word2vec -p model=logreg,linear_svc \
		--metric mcc --workers 2 --report docs/compare

bench: $(INSTALLED)  ## every benchmark in BENCHMARKS.md (serve_load needs wrk: apt-get install wrk)
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/scaling.py
	$(BIN)/python benchmarks/w2v_transform.py
	$(BIN)/python benchmarks/notebook_overhead.py
	$(BIN)/python benchmarks/recording.py
	$(BIN)/python benchmarks/recording_steps.py
	$(BIN)/python benchmarks/scorer.py
	$(BIN)/python benchmarks/cli_validation.py
	$(BIN)/python benchmarks/sweep_workers.py
	$(BIN)/python benchmarks/curate_page.py
	$(BIN)/python benchmarks/new_store.py
	$(BIN)/python benchmarks/label_efficiency.py
	command -v wrk >/dev/null || { echo "benchmarks/serve_load.py needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python benchmarks/serve_load.py

constraints: $(INSTALLED)  ## re-pin the exact versions after changing requirements
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact versions seen to resolve together (pip check clean) on Python 3.11; `make` installs with -c constraints.txt.\n# Refresh: make constraints. jsonschema stays below 4.25: its format-nongpl extra adds rfc3987-syntax, which builds a grammar for 1.8 s at every import of nbformat (every run).' > constraints.txt

clean:
	rm -rf $(VENV) *.egg-info

# (each notebook's kernel warns that it talks over local TCP while the site is built: that line is left out)
docs: $(INSTALLED)  ## the documentation site in _docs/: the README as home, the guide, every notebook a page (the library's executed)
	@set -o pipefail; NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet 2>&1 | { grep -v "Kernel is running over TCP without encryption" || true; }
	@echo "built: open $(CURDIR)/_docs/index.html (or: $(BIN)/python -m http.server -d _docs -b 127.0.0.1 8001)"
