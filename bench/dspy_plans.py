"""How each DSPy optimizer is set up to land near the shared budget of example evaluations.

DSPy has no global call cap; an example evaluation is one metric call during compile
(a candidate program scored on one example, bootstrapping traces included). The settings
follow each optimizer's documented defaults, shrunk only where the defaults would spend
far more than the budget (peers.md: calls are predictable from the parameters):

* ``dspy-mipro``: MIPROv2's ``auto="light"`` recipe (n = 6 candidates: 3 instructions and
  6 demo sets, since demos are on; 4 bootstrapped + 4 labelled demos) with the number of
  trials cut so that ``(trials + 1) x |dev|`` plus the bootstrapping estimate fit the
  budget; the full dev set is the validation set (``minibatch=False``: under 35).
* ``dspy-gepa``: GEPA with ``max_metric_calls = budget`` (its own hard cap), reflection
  on the same served model, a metric with textual feedback (the gold answer).
* ``dspy-bootstrap-rs``: BootstrapFewShotWithRandomSearch with DSPy's 4 bootstrapped
  demos, 8 labelled demos (16 by default: halved for the 135M model's speed), and as
  many candidate programs as ``(candidates + 3) x |val|`` plus bootstrapping allow (the
  validation set is dev, cut to the first ``budget / 4`` when larger: trec's 96).
* ``dspy-copro``: COPRO, depth 2 (1 when |train| is 96) and a breadth with
  ``depth x breadth x |train|`` near the budget.

With trec's 96-example splits the budget pays for little: MIPROv2 1 trial, BRS 1
random candidate on 60 validation examples, COPRO depth 1 x breadth 2.
"""

from __future__ import annotations

from typing import Any

BOOTSTRAP_GUESS = 8
"""Metric calls one bootstrapped demo set is assumed to take (4 demos at ~50% success)."""
METHODS = ["dspy-mipro", "dspy-gepa", "dspy-bootstrap-rs", "dspy-copro"]


def plan(method: str, budget: int, n_train: int, n_dev: int) -> dict[str, Any]:
    """Return the optimizer's settings for ``budget`` metric calls.

    >>> plan("dspy-copro", 256, 32, 32)["breadth"]
    4
    >>> plan("dspy-mipro", 256, 32, 32)["num_trials"]
    6
    """
    if method == "dspy-copro":
        depth = 2 if 2 * 2 * n_train <= budget else 1  # breadth is at least 2
        return {"depth": depth, "breadth": max(2, budget // (n_train * depth)),
                "init_temperature": 1.4}
    if method == "dspy-mipro":
        sets = 6 - 2  # light's 6 demo sets; zero-shot and labelled-only cost nothing
        trials = max(1, (budget - sets * BOOTSTRAP_GUESS) // n_dev - 1)
        return {"recipe": "auto=light, trials sized to the budget", "num_candidates": 6,
                "num_instruct_candidates": 3, "num_trials": trials,
                "max_bootstrapped_demos": 4, "max_labeled_demos": 4, "minibatch": False}
    if method == "dspy-gepa":
        return {"max_metric_calls": budget, "reflection_minibatch_size": 3,
                "candidate_selection_strategy": "pareto", "use_merge": True}
    if method == "dspy-bootstrap-rs":
        left = budget - BOOTSTRAP_GUESS * 2
        # 3 fixed programs (zero-shot, labelled, unshuffled) + at least 1 random one are
        # scored on the validation set: a large dev set is cut to fit them
        val = max(1, min(n_dev, left // 4))
        return {"max_bootstrapped_demos": 4, "max_labeled_demos": 8,
                "num_candidate_programs": max(1, left // val - 3), "val_size": val}
    raise ValueError(f"unknown DSPy method {method!r}; choose from {METHODS}")


def compile_program(
    method: str, settings: dict[str, Any], program: Any, trainset: list[Any],
    devset: list[Any], metric: Any, prompt_lm: Any, seed: int,
) -> Any:
    """Run the optimizer's compile with ``settings``; return the compiled program."""
    import dspy

    if method == "dspy-copro":
        opt = dspy.COPRO(prompt_model=prompt_lm, metric=metric, breadth=settings["breadth"],
                         depth=settings["depth"], init_temperature=settings["init_temperature"])
        return opt.compile(program, trainset=trainset,
                           eval_kwargs={"num_threads": 4, "display_progress": False})
    if method == "dspy-mipro":
        opt = dspy.MIPROv2(metric=metric, prompt_model=prompt_lm, auto=None,
                           num_candidates=settings["num_candidates"], num_threads=4,
                           max_bootstrapped_demos=settings["max_bootstrapped_demos"],
                           max_labeled_demos=settings["max_labeled_demos"], seed=seed,
                           verbose=False)
        opt.num_instruct_candidates = settings["num_instruct_candidates"]
        return opt.compile(program, trainset=trainset, valset=devset,
                           num_trials=settings["num_trials"], minibatch=False)
    if method == "dspy-gepa":
        opt = dspy.GEPA(metric=metric, reflection_lm=prompt_lm, num_threads=4, seed=seed,
                        **{k: v for k, v in settings.items()})
        return opt.compile(program, trainset=trainset, valset=devset)
    opt = dspy.BootstrapFewShotWithRandomSearch(
        metric=metric, num_threads=4, **{k: v for k, v in settings.items() if k != "val_size"})
    return opt.compile(program, trainset=trainset, valset=devset[: settings["val_size"]])
