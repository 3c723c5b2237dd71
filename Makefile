# Every target creates .venv with the machine's python3 if missing and installs the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: demo test serve bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sim demo $(ARGS)

test: $(STAMP)
	OAUTHLIB_INSECURE_TRANSPORT=1 $(PY) -m pytest -n 2 -q $(ARGS)

serve: $(STAMP)
	$(PY) -m sim serve all --scenario default $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
