# aksar: two commands on a fresh Debian machine -- `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AKSAR := $(VENV)/bin/aksar
APT_PACKAGES := fonts-khmeros fonts-thai-tlwg fonts-noto-core fonts-sil-mondulkiri fonts-sil-mondulkiri-extra fonts-noto-extra fonts-noto-ui-core fonts-arundina iso-codes libfribidi0 libraqm0 tesseract-ocr tesseract-ocr-khm tesseract-ocr-tha chromium chromium-driver
TORCH_VERSION := 2.13.0
DEMO_DIR ?= data
PYTEST_ARGS ?=

.PHONY: setup system-packages demo test bench clean

setup: system-packages $(VENV)/.installed

# Debian packages: fonts for the built-in scripts, FriBiDi for Pillow's RAQM layout, Tesseract for benchmarks,
# Chromium + ChromeDriver for the test of the `aksar serve` web page.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "system packages: all present"; \
	elif [ "$$(id -u)" = "0" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "error: missing Debian packages:$$missing"; \
	  echo "run as root, or: sudo apt-get install$$missing"; exit 1; fi

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first, pinned: the local CPU wheel (an unpinned torch pulls gigabytes of CUDA)
	$(PY) -m pip install -q --disable-pip-version-check torch==$(TORCH_VERSION)
	$(PY) -m pip install -q --disable-pip-version-check -e .[dev,fonts]
	@touch $@

demo: setup
	PYTHONUNBUFFERED=1 bash scripts/demo.sh $(DEMO_DIR)

test: setup
	PYTHONUNBUFFERED=1 $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/render.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
