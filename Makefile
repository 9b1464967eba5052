# The two quick-start commands, `make demo` and `make test`, create .venv on first use.
#
# Torch: with no GPU (no nvidia-smi) we install the CPU build `torch==2.13.0` first, so that the
# `torch>=2.2` requirement is already met and pip never pulls the CUDA packages. Override with
#   make demo TORCH=torch                       # a GPU machine: the default (CUDA) build
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu   # a CPU build from PyTorch's index
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
TORCH_INDEX ?=

.PHONY: demo test lint bench clean

$(VENV)/.ready: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev,bench,grid,tensorboard]"
	touch $@

demo: $(VENV)/.ready
	$(BIN)/hartflow eval --mode hrr --task scan --split addprim_jump
	$(BIN)/hartflow decode "jump around left twice" --task scan --split addprim_jump --explain

lint: $(VENV)/.ready
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: $(VENV)/.ready
	$(BIN)/python -m benchmarks.hrr_ops
	$(BIN)/python -m benchmarks.hrr_capacity
	$(BIN)/python -m benchmarks.memory_search
	$(BIN)/python -m benchmarks.scan_accuracy
	$(BIN)/python -m benchmarks.report

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
