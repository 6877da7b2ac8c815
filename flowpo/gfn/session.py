"""Wire a :class:`GfnTrainer` to a run: its demonstrations, reward scorer, memory, resume."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowpo.evaluation import Evaluator, ExampleBudget
from flowpo.gfn.settings import GfnSettings, step_cost
from flowpo.gfn.trainer import GfnTrainer, Scorer, StepReport
from flowpo.prompt import Prompt
from flowpo.run.rundir import GFN_ADAPTER
from flowpo.tasks.task import Task
from flowpo.types import Example

log = logging.getLogger(__name__)
MEMORY_REFS = 8
"""Past prompts of the same task DMU may draw for diversity (experience memory)."""


def demonstrations(task: Task) -> list[tuple[str, str]]:
    """Return (input, output) pairs for M, disjoint from the reward set (train split).

    The ``pool`` split is the GFlowPO protocol's source; without one, ``dev`` is used
    (still disjoint from the reward set).
    """
    examples = task.splits.get("pool") or task.splits.get("dev") or []
    out = []
    for ex in examples:
        target = task.verbalizers.get(str(ex.target), str(ex.target)) if task.labels else ex.target
        out.append((task.format_input(ex), str(target)))
    return out


def make_scorer(
    evaluator: Evaluator,
    examples: Sequence[Example],
    make_prompt: Callable[[str], Prompt],
    budget: ExampleBudget | None = None,
) -> Scorer:
    """Return the reward-set accuracy scorer, paid through ``budget`` (cache hits are free)."""
    owner = budget or ExampleBudget()

    async def score(texts: list[str]) -> list[float]:
        return [(await owner.score(evaluator, make_prompt(t), examples)).score for t in texts]

    return score


async def run_steps(
    trainer: GfnTrainer, score: Scorer, steps: int, budget: ExampleBudget, reward_size: int
) -> list[StepReport]:
    """Run up to ``steps`` trainer steps, each only when its worst-case cost fits the budget.

    A step scores at most ``grad_accum x batch_size`` fresh samples on the reward set.
    """
    worst = step_cost(trainer.s.batch_size, trainer.s.grad_accum, reward_size)
    reports = []
    for _ in range(steps):
        if not budget.fits(worst):
            log.info("GFlowPO stops: %s examples left, a step may need %s", budget.left, worst)
            break
        reports.append(await trainer.astep(score))
    return reports


def memory_refs(memory: Any, task: Task) -> list[str]:
    """Return short scored prompts of past runs on ``task`` (DMU diversity), best first."""
    if memory is None:
        return []
    hits = memory.search(
        task.description or task.name, MEMORY_REFS, kind="prompt", task=task.name, min_score=0.0
    )
    ranked = sorted(hits, key=lambda h: -float(h[0].score or 0.0))
    return [rec.text for rec, _ in ranked if len(rec.text) <= 600]


_TRAINERS: dict[str, GfnTrainer] = {}


def trainer_for(config: Any, task: Task, memory: Any = None) -> GfnTrainer:
    """Return the run's trainer (one per configuration and process; the latest two kept)."""
    key = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    if key not in _TRAINERS:
        settings = GfnSettings.from_config(config, len(task.split("train")))
        _TRAINERS[key] = GfnTrainer(
            settings,
            demonstrations(task),
            len(task.split("train")),
            extra_refs=memory_refs(memory, task),
        )
        while len(_TRAINERS) > 2:
            del _TRAINERS[next(iter(_TRAINERS))]
    return _TRAINERS[key]


def sync(trainer: GfnTrainer, state: dict[str, Any] | None, run_dir: Path) -> None:
    """Make the trainer match the graph state (a resumed run continues from it)."""
    if not state or int(state.get("step", 0)) == trainer.step:
        return
    path = run_dir / GFN_ADAPTER
    log.info("GFlowPO resumes at step %s (adapter %s)", state.get("step"), path)
    trainer.load_state(state, path)
