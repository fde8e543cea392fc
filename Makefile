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

# llama.cpp (for the embedded model) is built from source for this machine's CPU, but without AMX:
# -march=native turns on its AMX kernels, which crashed (SIGSEGV in ggml_backend_amx_mul_mat) on an
# AMX-capable machine here. So the build names each x86 feature /proc/cpuinfo lists instead, AMX left out.
# (--no-cache-dir: a wheel cached from a native build must not be reused.)
ifeq ($(shell uname -m),x86_64)
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has = $(if $(filter $(1),$(CPU_FLAGS)),ON,OFF)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=$(call has,avx) -DGGML_AVX2=$(call has,avx2) \
	-DGGML_FMA=$(call has,fma) -DGGML_F16C=$(call has,f16c) -DGGML_BMI2=$(call has,bmi2) \
	-DGGML_AVX_VNNI=$(call has,avx_vnni) -DGGML_AVX512=$(call has,avx512f) \
	-DGGML_AVX512_VBMI=$(call has,avx512vbmi) -DGGML_AVX512_VNNI=$(call has,avx512_vnni) \
	-DGGML_AVX512_BF16=$(call has,avx512_bf16)
else
LLAMA_CMAKE_ARGS :=
endif
# Build only what tenure loads: no multimodal library (LLAVA_BUILD) and no llama.cpp `common` library
# (cmake/llama-no-common.cmake). 279 s → 111 s on 2 cores (BENCHMARKS.md, bench/setup_time.py).
LLAMA_CMAKE_ARGS += -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(CURDIR)/cmake/llama-no-common.cmake

# torch goes in first, pinned, so nothing later resolves a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir llama-cpp-python==0.3.36
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,analysis]'
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
	$(BIN)/python bench/telegram.py
	$(BIN)/python bench/inbox.py

clean:
	rm -rf $(VENV)
