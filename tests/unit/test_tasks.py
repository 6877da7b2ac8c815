"""Built-in tasks: the shipped data, seeds, the catalog, and the deterministic build."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from flowpo.errors import DataError
from flowpo.prompt import DEFAULT_TEMPLATE
from flowpo.tasks import SPLITS, Task, list_tasks, load_task, resolve_task, task_spec
from flowpo.tasks.builtin import example_key
from flowpo.types import Example

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "datasets"
ALL = [row["name"] for row in list_tasks()]
GLUE = ["sst2", "mrpc", "rte", "qnli", "mnli", "snli"]


def keys(examples: list[Example]) -> set[str]:
    return {example_key(e.input, e.choices) for e in examples}


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_task_data", REPO / "tools" / "build_task_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_catalog_lists_every_group() -> None:
    groups = Counter(row["group"] for row in list_tasks())
    assert set(groups) == {"glue", "fewshot", "ii", "bbii", "mmlu", "chinese"}
    assert groups["glue"] == 6 and groups["ii"] == 12 and groups["bbii"] == 12
    assert {"sst2-test", "agnews", "trec", "thucnews", "cluener", "mmlu-marketing"} <= set(ALL)
    assert [r["name"] for r in list_tasks("mmlu")] == sorted(n for n in ALL if n[:5] == "mmlu-")


@pytest.mark.parametrize("name", ALL)
def test_every_task_loads_consistently(name: str) -> None:
    task = load_task(name)
    row = next(r for r in list_tasks() if r["name"] == name)
    assert isinstance(task, Task) and task.template == DEFAULT_TEMPLATE
    assert task.sizes() == {s: row["sizes"][s] for s in SPLITS}
    assert task.split("train") and task.split("dev") and task.split("test")
    for split, examples in task.splits.items():
        assert [e.id for e in examples] == [f"{split}-{i}" for i in range(len(examples))]
    test, fewshot = keys(task.splits["test"]), keys(task.splits["train"] + task.splits["dev"])
    assert not test & fewshot, "test shares inputs with train/dev"
    assert not keys(task.splits["pool"]) & (test | fewshot)
    if task.name.startswith("mmlu-"):  # MMLU ships 5 examples: dev is train, by design
        assert task.splits["dev"] == [
            Example(f"dev-{i}", e.input, e.target, e.targets, e.choices)
            for i, e in enumerate(task.splits["train"])
        ]
    else:
        assert not keys(task.splits["train"]) & keys(task.splits["dev"])
    if task.kind == "classification":
        assert row["n_labels"] == len(task.labels) == len(set(task.verbalizers.values()))
        for e in task.splits["train"] + task.splits["test"]:
            assert e.target in task.labels
        assert all(re.fullmatch(r"\S+", w) for w in task.verbalizers.values())
    task.format_input(task.splits["test"][0])


def test_glue_sizes_and_balance() -> None:
    sizes = {n: load_task(n).sizes() for n in GLUE}
    assert sizes["sst2"]["train"] == sizes["sst2"]["dev"] == 32 and sizes["sst2"]["test"] == 872
    assert (sizes["mnli"]["train"], sizes["mnli"]["dev"], sizes["mnli"]["test"]) == (48, 48, 2000)
    assert sizes["rte"]["test"] == 277 and sizes["mrpc"]["test"] == 408
    for name in GLUE:
        task = load_task(name)
        for split in ("train", "dev"):
            counts = Counter(e.target for e in task.splits[split])
            assert set(counts) == set(task.labels)
            if not (name == "snli" and split == "train"):  # LM-BFF SNLI seed 42: 18/14/16
                assert set(counts.values()) == {16}, (name, split, counts)


def test_verbalizers_follow_gflowpo() -> None:
    assert load_task("sst2").verbalizers == {"negative": "no", "positive": "yes"}
    assert load_task("rte").verbalizers == {"entailment": "yes", "not_entailment": "no"}
    assert load_task("mrpc").verbalizers == {"not_equivalent": "No", "equivalent": "Yes"}
    assert load_task("mnli").labels == ("entailment", "neutral", "contradiction")
    assert list(load_task("snli").verbalizers.values()) == ["Yes", "Maybe", "No"]
    assert load_task("agnews").verbalizers["Sci/Tech"] == "Technology"
    assert load_task("snarks").verbalizers == {"(a)": "A", "(b)": "B"}
    assert load_task("navigate").verbalizers == {"True": "Yes", "False": "No"}
    assert load_task("thucnews").verbalizers["realty"] == "property"


def test_input_formats() -> None:
    mnli = load_task("mnli")
    ex = mnli.split("test")[0]
    assert isinstance(ex.input, dict) and list(ex.input) == ["premise", "hypothesis"]
    text = mnli.format_input(ex)
    assert text == f"premise : {ex.input['premise']}\n hypothesis : {ex.input['hypothesis']}"
    qnli = load_task("qnli").split("train")[0]
    assert isinstance(qnli.input, dict) and list(qnli.input) == ["question", "sentence"]
    mmlu = load_task("mmlu-marketing")
    lines = mmlu.format_input(mmlu.split("test")[0]).split("\n")
    assert [line[:3] for line in lines[1:]] == ["A. ", "B. ", "C. ", "D. "]
    qs = load_task("question_selection")
    for e in qs.splits["test"]:
        assert 2 <= len(e.choices) <= 10 and "ABCDEFGHIJ".index(e.target) < len(e.choices)
    assert "\nB. " in qs.format_input(qs.split("test")[0])


def test_lmbff_seed_swaps_train_dev_and_pool() -> None:
    default, s13 = load_task("sst2"), load_task("sst2", seed=13)
    assert load_task("sst2", seed=42).splits == default.splits
    assert keys(s13.splits["train"]) != keys(default.splits["train"])
    assert s13.splits["test"] == default.splits["test"]
    assert keys(default.splits["train"]) <= keys(s13.splits["pool"])
    assert not keys(s13.splits["pool"]) & keys(s13.splits["train"] + s13.splits["dev"])
    assert [e.id for e in s13.splits["pool"]][:2] == ["pool-0", "pool-1"]
    with pytest.raises(DataError, match="13, 21, 42, 87, 100"):
        load_task("sst2", seed=7)


def test_other_seeds_redraw_sampled_splits() -> None:
    base = load_task("synonyms")
    assert load_task("synonyms", seed=0).splits == base.splits
    other = load_task("synonyms", seed=3)
    assert other.sizes() == base.sizes()
    assert keys(other.splits["train"]) != keys(base.splits["train"])
    assert other.splits["test"] == base.splits["test"]
    assert not keys(other.splits["train"]) & keys(other.splits["dev"] + other.splits["pool"])
    thuc = load_task("thucnews", seed=5)
    assert set(Counter(e.target for e in thuc.splits["train"]).values()) == {16}
    bb = load_task("causal_judgment", seed=2)
    assert len(bb.splits["train"]) == len(bb.splits["dev"]) == 15
    assert load_task("mmlu-marketing", seed=9).splits == load_task("mmlu-marketing").splits


def test_reference_prompts_and_metrics() -> None:
    assert load_task("synonyms").reference_prompts[0] == "provide a synonym"
    assert load_task("navigate").reference_prompts[0].startswith("If you follow")
    assert load_task("sst2").reference_prompts == ()
    assert "token_f1 for common_concept" in task_spec("diff")["protocol"]
    assert "1,821" in task_spec("sst2-test")["protocol"]
    assert load_task("informal_to_formal").metric == "token_f1"
    assert load_task("synonyms").metric == "exact_match"
    assert load_task("cluener").metric == "entity_f1"
    rhymes = load_task("rhymes").split("test")[0]
    assert rhymes.targets and rhymes.target in rhymes.targets


def test_unknown_names_suggest_close_matches() -> None:
    with pytest.raises(DataError, match=r"did you mean sst2.*flowpo tasks"):
        load_task("sst-2x")
    with pytest.raises(DataError, match="group of 19 tasks"):
        load_task("mmlu")
    with pytest.raises(DataError, match="unknown task group"):
        list_tasks("nope")


def test_resolve_task_names_and_overrides(tmp_path: Path) -> None:
    assert resolve_task("rte", seed=None, labels=None).name == "rte"
    task = resolve_task("sst2", verbalizers="bad,good", template="{prompt}\n{text} =")
    assert task.verbalizers == {"negative": "bad", "positive": "good"}
    assert task.template == "{prompt}\n{text} ="
    with pytest.raises(DataError, match="input_field"):
        resolve_task("sst2", input_field="text")
    with pytest.raises(DataError, match="does not exist"):
        resolve_task(tmp_path / "missing.jsonl")
    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(json.dumps({"input": f"x{i}", "target": "ab"[i % 2]}) + "\n" for i in range(100))
    )
    assert resolve_task(str(data), seed=None).kind == "classification"


def fake_lmbff(root: Path) -> None:
    """Write a tiny fewshot_glue/rte with two seeds and one BBII task."""
    rte = root / "fewshot_glue" / "rte"

    def rows(tag: str, n: int) -> str:
        return "".join(
            json.dumps(
                {
                    "input": {"sentence1": f"{tag} {i}", "sentence2": "s"},
                    "target": lab,
                    "label": lab,
                    "label_id": i % 2,
                }
            )
            + "\n"
            for i, lab in enumerate(["entailment", "not_entailment"] * n)
        )

    for sub, tag in (("", "a"), ("seeds/16-42/", "a"), ("seeds/16-13/", "b")):
        (rte / sub).mkdir(parents=True, exist_ok=True)
        (rte / f"{sub}train.jsonl").write_text(rows(f"{tag}train", 3))
        (rte / f"{sub}dev.jsonl").write_text(rows(f"{tag}dev", 3))
    (rte / "test.jsonl").write_text(rows("test", 5) + rows("btrain", 1))
    bb = root / "bbii" / "navigate"
    bb.mkdir(parents=True)
    info = {"task_prefix": "Do you return?\n", "description": "Navigate"}
    (bb / "task_info.json").write_text(json.dumps(info))
    for split, n in (("train", 30), ("test", 12)):
        (bb / f"{split}.jsonl").write_text(
            "".join(
                json.dumps(
                    {
                        "input": f"{split} {i}",
                        "target": lab,
                        "label": lab,
                        "choices": ["True", "False"],
                        "label_id": int(lab == "False"),
                    }
                )
                + "\n"
                for i, lab in enumerate(["True", "False"] * (n // 2))
            )
        )


def test_build_is_deterministic_and_loadable(tmp_path: Path) -> None:
    build = load_build_script()
    fake_lmbff(tmp_path / "src")
    for out in ("a", "b"):
        tasks = build.build(tmp_path / "src", tmp_path / out)
    assert set(tasks) == {"rte", "navigate"}
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert Path("rte/train-13.jsonl.gz") in files and Path("catalog.json") in files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    rte = tasks["rte"]
    assert rte["sizes"] == {"train": 6, "dev": 6, "test": 10, "pool": 12}  # btrain 0 left test
    assert rte["input_format"] == "pair" and rte["split_rule"]["seeds"] == [13, 42]
    assert tasks["navigate"]["sizes"] == {"train": 15, "dev": 15, "test": 12, "pool": 0}


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared datasets not available")
def test_build_matches_shipped_data(tmp_path: Path) -> None:
    build = load_build_script()
    build.build(SHARED, tmp_path, only={"causal_judgment", "rte"})
    shipped = REPO / "flowpo" / "tasks" / "data"
    for rel in sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.gz")):
        assert (tmp_path / rel).read_bytes() == (shipped / rel).read_bytes(), rel
    catalog = json.loads((shipped / "catalog.json").read_text(encoding="utf-8"))["tasks"]
    rebuilt = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))["tasks"]
    assert rebuilt["rte"] == catalog["rte"]
