"""Must-show: the same command, seed and memory snapshot give the same prompt and scores."""

import json

import pytest

from flowpo.cli import main
from flowpo.memory import MemoryRecord, MemoryStore, load_embedder
from flowpo.memory.snapshot import READ_FILE
from flowpo.operators.registry import operator_names
from flowpo.search.policy import QTable

pytestmark = pytest.mark.slow

TINY = [
    "optimize",
    "--task", "sst2",
    "--max-epochs", "1",
    "--actions-per-epoch", "2",
    "--children-per-action", "1",
    "--reflect-cases", "2",
    "--operator-max-tokens", "24",
    "--operators", "rewrite,rag,refine,short_instruction",
    "--evaluate-test", "false",
    "--track-dev", "false",
    "--dtype", "float32",
    "--seed", "7",
    "--quiet",
]  # fmt: skip


def remember(memory, run, score):
    q = QTable.uniform(["instruction"], operator_names())
    q.set("instruction", "rag", 0.5 * score)
    store = MemoryStore(memory, load_embedder("local:all-minilm-l6-v2"))
    store.add(
        [
            MemoryRecord(
                "section", f"Say if the review is positive ({run}).", "sst2", run, "m", score
            ),
            MemoryRecord(
                "q_table", "Classify the sentiment of a movie-review sentence", "sst2", run,
                "m", data={"q_table": q.to_dict()},
            ),
        ]
    )  # fmt: skip
    store.close()


def run(tmp_path, name, *extra):
    main([*TINY, "--memory-dir", str(tmp_path / "mem"), "--run-dir", str(tmp_path / name), *extra])
    best = json.loads((tmp_path / name / "best_prompt.json").read_text())
    return best


def test_same_command_seed_and_snapshot_give_the_same_run(tmp_path):
    remember(tmp_path / "mem", "past-1", 0.9)
    first = run(tmp_path, "a")
    read = json.loads((tmp_path / "a" / READ_FILE).read_text())["records"]
    assert read and {r["run"] for r in read} <= {"past-1"}  # it read the past run's records
    remember(tmp_path / "mem", "past-2", 1.0)  # the shared memory moves on (and holds run a)
    second = run(tmp_path, "b", "--memory-snapshot", str(tmp_path / "a"))
    assert second["prompt"] == first["prompt"]
    for key in ("initial", "final", "finalists", "operator_usage", "warm_start"):
        assert second[key] == first[key], key
    again = json.loads((tmp_path / "b" / READ_FILE).read_text())["records"]
    assert [r["id"] for r in again] == [r["id"] for r in read]
