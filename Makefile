# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Models and embeddings come from PyPI packages; never reach for a model hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test test-fast lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama.cpp (for the embedded model) is built from source without -march=native: on a CPU that
# advertises AMX its native build crashed in ggml_backend_amx_mul_mat (seen on this project's machines).
# On x86-64 the build targets AVX2, which every machine this runs on has; a cached native wheel is not reused.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
else
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
endif

# torch goes in first, pinned, so nothing later resolves a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir llama-cpp-python==0.3.36
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/tenure demo

test: lint
	$(BIN)/pytest

# every module, test and bench type-checked by pyright (basic mode; see [tool.pyright])
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

# the quick loop while working: no test that starts a server or loads a model
test-fast: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not slow"

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed
	$(BIN)/python bench/models.py

clean:
	rm -rf $(VENV)
