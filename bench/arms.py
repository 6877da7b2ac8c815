"""The medium profile's in-process arms: flowpo's natural modes, the baselines, kNN demos.

Every arm returns a cell: test score with its per-example scores (for the paired
bootstrap), dev score of the chosen prompt, train examples spent, operator-LM calls and
the chosen prompt. The DSPy arms live in bench/dspy_peer.py.

Manual frame (the ``-frame`` arms): APE, OPRO and ProTeGi optimise the instruction inside
a fixed template the task gives them (APE §3 "the template"; OPRO §5 scorer prompt with
the instruction at a fixed position; ProTeGi §3 a prompt p over a fixed input format);
giving them the task's natural hand-written frame instead of GFlowPO's ``Input : ..
Output:`` stays within their protocol. The frames below are written by hand, one per
task, from flowpo's frame library (``flowpo.operators.framing.FRAMES``), never searched;
the label words stay the task's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import MODEL, RUNS, setting, test_examples
from bench.stats import best_rows_at, returned_history

MANUAL_FRAMES = {
    "sst2": "{prompt}\n\nReview: {text}\nSentiment:",
    "cr": "{prompt}\n\nReview: {text}\nSentiment:",
    "subj": "{prompt}\n\nSentence: {text}\nCategory:",
    "trec": "{prompt}\n\nQuestion: {text}\nAnswer type:",
    "agnews": "{prompt}\n\nArticle: {text}\nTopic:",
    "rte": "{prompt}\n\n{text}\nAnswer:",
    "synonyms": "{prompt}\n\nWord: {text}\nSynonym:",
    "sentence_similarity": "{prompt}\n\n{text}\nSimilarity:",
}
"""The task's own manual frame for the ``-frame`` arms (hand-written, not searched)."""
GFN_BENCH = {"gfn_batch_size": 4, "gfn_grad_accum": 1, "gfn_steps_per_epoch": 1}
"""hybrid's GFlowPO step sized so the example budget can stop it (one step = 4 prompts)."""


class BenchEnv:
    """What the cells of one harness process share (any profile): options, the test cache."""

    def __init__(self, profile: dict[str, Any], args: Any) -> None:
        """Open the shared test-score cache (a prompt's test examples are scored once)."""
        from flowpo.evaluation import EvalCache

        self.profile = profile
        self.args = args
        RUNS.mkdir(parents=True, exist_ok=True)
        self.test_cache = EvalCache(RUNS / "test_cache.sqlite")

    def evaluator(self, task: Any) -> Any:
        """Return an evaluator of ``task`` on the target, scores kept in the shared cache."""
        from flowpo.evaluation import Evaluator
        from flowpo.models.spec import load_target

        return Evaluator(task, load_target(MODEL), cache=self.test_cache,
                         max_new_tokens=setting(self.profile, task, "max_new_tokens"))

    def score_test(self, task: Any, prompt: Any) -> dict[str, Any]:
        """Score ``prompt`` on the fixed seeded test sample; keep per-example scores."""
        ev = self.evaluator(task)
        examples = test_examples(task, setting(self.profile, task, "test_limit"))
        res = ev.evaluate(prompt, examples)
        return {"test": res.score, "test_n": len(examples),
                "test_scores": [round(r.score, 4) for r in res.examples]}


def framed_task(name: str, seed: int, framed: bool) -> Any:
    """Return the task (its seed's splits), in its manual frame when ``framed``."""
    from flowpo.tasks import resolve_task

    task = resolve_task(name, seed=seed)
    return replace(task, template=MANUAL_FRAMES[name]) if framed else task


def run_baseline_search(
    env: BenchEnv, task: Any, method: str, seed: int, budget: int
) -> tuple[Any, Any]:
    """Run flowpo baseline ``method`` on ``task``; return its evaluator and search result.

    A fresh target per cell (no memo shared with other cells), flowpo's operator-LM settings.
    """
    import torch

    from flowpo.baselines import Search
    from flowpo.evaluation import EvalCache, Evaluator
    from flowpo.methods import get_method
    from flowpo.models.chat import LocalChatModel
    from flowpo.models.local import LocalLM

    baseline = get_method(method)
    torch.manual_seed(seed)
    ev = Evaluator(task, LocalLM(), cache=EvalCache(),  # a fresh target: no shared memo
                   max_new_tokens=setting(env.profile, task, "max_new_tokens"))
    llm = None
    if baseline.needs_llm:  # flowpo's operator-LM settings
        llm = LocalChatModel(lm=LocalLM(), max_new_tokens=160, temperature=0.7, top_p=0.9)
    search = Search(ev, llm, budget_examples=budget, seed=seed)
    return ev, asyncio.run(baseline.load()(search))


def run_search(env: BenchEnv, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """Run a flowpo baseline (manual, fewshot, ape, opro, protegi; ``-frame`` variants)."""
    task = framed_task(name, seed, method.endswith("-frame"))
    ev, res = run_baseline_search(env, task, method.removesuffix("-frame"), seed, budget)
    dev, dev_scored = res.dev, res.budget["dev_examples_scored"]
    if dev is None:  # no selection (manual, fewshot): dev scored for the efficiency table
        dev = ev.evaluate(res.prompt, task.split("dev")).score
        dev_scored += len(task.split("dev"))
    return {
        **env.score_test(task, res.prompt), "dev": dev, "train": res.train,
        "train_examples": res.budget["train_examples_scored"], "dev_examples": dev_scored,
        "llm_calls": res.budget["llm_calls"], "llm_requests": res.budget["llm_requests"],
        "prompt": res.prompt.text, "frame": task.template, "trials": len(res.trials),
    }


KNN_K = 4
"""Demonstrations per input: as many as the few-shot baseline's random ones."""


def run_knn(env: BenchEnv, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """Score the kNN-demonstration baseline: the manual prompt retrieving 4 demos per input.

    flowpo's retrieval (:mod:`flowpo.evaluation.retrieval`) over train + dev, with no
    search: the same prompt flowpo's search may start from, scored as is.
    """
    from dataclasses import replace as with_

    from flowpo.prompt import Prompt
    from flowpo.tasks.manual import manual_prompt

    task = framed_task(name, seed, False)
    base = Prompt.from_text(manual_prompt(task, list(task.reference_prompts)))
    prompt = with_(base, retrieve=KNN_K)
    return {
        **env.score_test(task, prompt), "dev": None, "train": None,
        "train_examples": 0, "dev_examples": 0, "llm_calls": 0, "llm_requests": 0,
        "prompt": prompt.text, "settings": {"k": KNN_K, "pool": "train+dev"},
    }


FLOWPO_ARMS: dict[str, dict[str, Any]] = {
    "flowpo": {},
    "flowpo-plain": {"retrieve": 0},
    "flowpo-hybrid": {"method": "hybrid", **GFN_BENCH},
}
"""Each flowpo arm's settings beside ``flowpo.optimize``'s defaults."""


def run_flowpo(env: BenchEnv, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """Run ``flowpo.optimize`` in its natural mode (defaults; memory off) and score test.

    ``flowpo`` is the default method (promptflow, msgd-rl, edit_format on, the gated
    retrieving start with 4 demonstrations); ``flowpo-plain`` the same without the
    retrieving start (``retrieve=0``); ``flowpo-hybrid`` is ``method="hybrid"``. The curve: the
    best-so-far prompt (by train) at each of the profile's checkpoint budgets, read from
    this run's history, scored on test.
    """
    import torch

    import flowpo
    from flowpo.prompt import Prompt

    torch.manual_seed(seed)
    run = RUNS / "medium" / f"{name}-{method}-s{seed}-b{budget}"
    shutil.rmtree(run, ignore_errors=True)
    kwargs = FLOWPO_ARMS[method]
    task = framed_task(name, seed, False)
    result = flowpo.optimize(
        task=name, seed=seed, data_seed=seed, run_dir=run, budget_examples=budget,
        max_epochs=100, use_memory=False, evaluate_test=False,
        max_new_tokens=setting(env.profile, task, "max_new_tokens"), **kwargs,
    )
    prompt = Prompt.from_dict(json.loads((run / "best_prompt.json").read_text())["prompt"])
    b = result.get("budget", {})
    rows = read_jsonl(run / "history.jsonl")
    return {
        **env.score_test(task, prompt), "dev": result["final"]["dev"],
        "train": result["final"]["train"],
        "train_examples": int(b.get("examples_scored", 0)),
        "dev_examples": int(b.get("dev_examples_scored", 0)),
        "llm_calls": int(b.get("llm_calls", 0)), "llm_requests": None,
        "prompt": prompt.text, "parts": prompt_parts(prompt),
        "epochs": result.get("epochs"), "stop_reason": result.get("stop_reason"),
        "history": [[(r.get("budget") or {}).get("examples_scored"), r.get("best_dev")]
                    for r in rows if "epoch" in r],
        "returned": returned(env, task, run, result),
        "curve": curve(env, task, run, rows, env.profile["checkpoints"]),
        "settings": {"method": kwargs.get("method", "promptflow"), "max_epochs": 100,
                     "use_memory": False, **{k: v for k, v in kwargs.items() if k != "method"}},
    }


def returned(env: BenchEnv, task: Any, run: Path, result: dict[str, Any]) -> list[list[float]]:
    """Return ``[spent, dev]`` of what the run would return after each candidate.

    Replays the finalize step's choice on the candidates scored so far
    (:func:`bench.stats.returned_history`), scoring each finalist's prompt on dev with the
    target (outside the budget, as the run scores dev).
    """
    from flowpo.prompt import Prompt

    ev = env.evaluator(task)
    dev = task.split("dev")

    def dev_of(row: dict[str, Any]) -> tuple[float, float]:
        res = ev.evaluate(Prompt.from_dict(row["prompt"]), dev)
        return res.score, float(res.details.get("soft_score", 0.0))

    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text()) or {}
    w = float(config.get("soft_weight", 0.5))
    return returned_history(read_jsonl(run / "candidates.jsonl"), dev_of, len(dev), w)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Return the rows of a JSON-lines file (none when it is missing)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prompt_parts(prompt: Any) -> dict[str, Any]:
    """Return what the winning prompt is made of (for the report's "why it won" line)."""
    return {
        "sections": [s.name for s in prompt.sections if s.text.strip()],
        "frame": prompt.template, "label_words": dict(prompt.verbalizers or {}),
        "calibrate": bool(prompt.calibrate), "retrieve": int(prompt.retrieve),
    }


def curve(env: BenchEnv, task: Any, run: Path, rows: list[dict[str, Any]],
          checkpoints: list[int]) -> list[dict[str, Any]]:
    """Return the best-so-far prompt's test score at each checkpoint budget of one run."""
    from flowpo.prompt import Prompt

    by_id = {c["id"]: c for c in read_jsonl(run / "candidates.jsonl")}
    points = []
    for b, row in best_rows_at(rows, checkpoints).items():
        cid = row and row.get("best_id")
        if row is None or cid not in by_id:
            continue
        scored = env.score_test(task, Prompt.from_dict(by_id[cid]["prompt"]))
        points.append({"budget": b, "test": scored["test"], "dev": row.get("best_dev"),
                       "spent": (row.get("budget") or {}).get("examples_scored")})
    return points
