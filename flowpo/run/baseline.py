"""Run a baseline method (manual, fewshot, APE, OPRO, ProTeGi) into a run directory.

The run directory is the one a graph run writes: ``config.yaml``, ``history.jsonl`` (one
row per scoring of a prompt on train, in order, then a summary row), ``candidates.jsonl``
(one row per prompt tried), ``best_prompt.md``/``.json``, the eval cache and
``report.html``; the result has the keys of the graph's (:mod:`flowpo.agents.finalizer`).
The baseline runs on a :class:`~flowpo.baselines.common.Search` with ``budget_examples``
target-LM train examples (default :data:`~flowpo.config.BASELINE_BUDGET_ROUNDS` x the
train split), the run's target model, evaluator and operator LM
(:func:`flowpo.graphs.resources.resources`); it starts from the task's manual prompt, does
not use the experience memory, and refuses the settings it cannot honour (``approve``, a
start prompt, ``budget_llm_calls``, ``budget_seconds``). A baseline keeps no checkpoint:
``flowpo resume`` returns a finished run's result and runs an unfinished one again (its
eval cache serves the examples scored before, though the budget counts them again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langgraph.runtime import RunControl

from flowpo.baselines.common import BaselineResult, Search, Trial
from flowpo.baselines.simple import manual
from flowpo.config import BASELINE_BUDGET_ROUNDS, OptimizeConfig
from flowpo.errors import ConfigError, RunStopped
from flowpo.graphs.resources import Resources, resources
from flowpo.models.spec import scoring_path
from flowpo.prompt import Prompt
from flowpo.run.outputs import close_run, write_result
from flowpo.run.rundir import CANDIDATES, HISTORY, write_atomic
from flowpo.search.selection import wilson
from flowpo.types import Candidate, Example

Listener = Callable[[dict[str, Any]], None]


class RecordedSearch(Search):
    """A search that logs every scoring as a history row and stops on a drain request.

    Args:
        *args: What :class:`~flowpo.baselines.common.Search` takes.
        on_event: Called with an ``epoch`` event per scoring (the CLI's progress bar).
        control: ``control.request_drain()`` stops the run before its next scoring.
        **kwargs: What :class:`~flowpo.baselines.common.Search` takes.
    """

    def __init__(
        self,
        *args: Any,
        on_event: Listener | None = None,
        control: RunControl | None = None,
        **kwargs: Any,
    ) -> None:
        """Bind the search and the listeners; no row yet."""
        super().__init__(*args, **kwargs)
        self.on_event = on_event
        self.control = control
        self.rows: list[dict[str, Any]] = []
        self.first_row: dict[int, int] = {}  # id(trial) -> the row that first scored it

    async def score(
        self, prompt: Prompt, examples: Sequence[Example] | None = None, **info: Any
    ) -> Trial:
        """Score as :meth:`Search.score` does; log a row when new examples were scored."""
        if self.control is not None and self.control.drain_requested:
            raise RunStopped(
                f"stopped on request after {len(self.rows)} scorings; a baseline keeps no "
                "checkpoint, its scored examples are in the eval cache",
                fix="run it again ('flowpo resume' starts it over)",
            )
        before = self.train_scored
        trial = await super().score(prompt, examples, **info)
        if self.train_scored > before:
            self._log(trial, self.train_scored - before)
        return trial

    def cid(self, trial: Trial) -> str:
        """Return a trial's candidate id (``t<index>``, in the order trials were made)."""
        return f"t{next(i for i, t in enumerate(self.trials) if t is trial)}"

    def _log(self, trial: Trial, scored: int) -> None:
        best = self.ranked()[0]
        self.first_row.setdefault(id(trial), len(self.rows))
        budget = {"examples_scored": self.train_scored, "llm_calls": self.llm_calls}
        row = {
            "epoch": len(self.rows),
            "best_train": best.metric,
            "best_loss": 1 - best.metric,
            "best_id": self.cid(best),
            "best_dev": None,
            "evaluated": 1,
            "budget": budget,
            "trials": [
                {**_trial_info(trial), "id": self.cid(trial), "scored": scored, "n": trial.n}
            ],
        }
        self.rows.append(row)
        if self.on_event is not None:
            event = {"event": "epoch", "epoch": row["epoch"], "best_train": best.metric}
            self.on_event({**event, "budget": budget, "actions": [trial.origin]})


async def run_baseline(
    config: OptimizeConfig,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
) -> dict[str, Any]:
    """Run the baseline ``config.method`` in ``config.run_dir``; return the graph-style result.

    Raises:
        ConfigError: The run directory holds a run already, or a setting the baseline
            cannot honour (approval, a start prompt, an LLM-call or time budget) is set.
    """
    from flowpo.scale.preflight import preflight

    method = config.method_spec
    run_dir = Path(str(config.run_dir))
    _check(config, run_dir)
    await preflight(config)  # bad endpoints fail before work
    res = resources(config.model_copy(update={"use_memory": False}))
    train = res.task.split("train")
    budget = config.budget_examples or BASELINE_BUDGET_ROUNDS * len(train)
    search = RecordedSearch(
        res.evaluator,
        res.llm if method.needs_llm else None,
        budget_examples=budget,
        seed=config.seed,
        soft_weight=config.soft_weight,
        on_event=on_event,
        control=control,
    )
    start, spent_before = time.perf_counter(), res.evaluator.budget.as_dict()
    chosen = await method.load()(search)
    result = await _result(config, res, search, chosen)
    after = res.evaluator.budget.as_dict()
    result["budget"].update(
        examples_cached=after["examples_cached"] - spent_before["examples_cached"],
        tokens=after["tokens"] - spent_before["tokens"],
        seconds=time.perf_counter() - start,
    )
    _write(res, search, chosen.prompt, result)
    if on_event is not None:
        on_event({"event": "done", "result": result})
    return {**result, "run_dir": str(run_dir)}


async def resume_baseline(
    config: OptimizeConfig,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
) -> dict[str, Any]:
    """Return a finished baseline run's result; run an unfinished one again."""
    run_dir = Path(str(config.run_dir))
    path = run_dir / HISTORY
    if path.is_file():
        for line in reversed(path.read_text(encoding="utf-8").splitlines()):
            row = json.loads(line) if line.strip() else {}
            if row.get("summary"):
                row.pop("summary")
                return {**row, "run_dir": str(run_dir)}
        path.unlink()  # rows without a summary: the run did not finish
    return await run_baseline(config, on_event=on_event, control=control)


def _check(config: OptimizeConfig, run_dir: Path) -> None:
    if (run_dir / HISTORY).exists():
        raise ConfigError(
            "the run directory already holds a run",
            where=str(run_dir),
            field="run_dir",
            fix=f"see its result with 'flowpo resume {run_dir}', or choose a new --run-dir",
        )
    unsupported = {
        "approve": config.approve,
        "prompt": config.prompt is not None,
        "prompt_file": config.prompt_file is not None,
        "start": config.start != "manual",
        "budget_llm_calls": config.budget_llm_calls is not None,
        "budget_seconds": config.budget_seconds is not None,
    }
    for field, on in unsupported.items():
        if on:
            raise ConfigError(
                f"the baseline {config.method!r} cannot honour {field} (it starts from the "
                "manual prompt, pauses for no review, and only budget_examples limits it)",
                field=field,
                fix=f"leave {field} at its default, or use a graph method (e.g. promptflow)",
            )


async def _result(
    config: OptimizeConfig, res: Resources, search: RecordedSearch, chosen: BaselineResult
) -> dict[str, Any]:
    """Score the initial (manual) and the chosen prompt on dev (and test); build the result."""
    initial = manual(search)
    budget: dict[str, float] = {
        "examples_scored": search.train_scored,
        "dev_examples_scored": search.dev_scored,
        "llm_calls": search.llm_calls,
        "llm_requests": search.llm_requests,
    }
    splits = ("dev", "test") if config.evaluate_test else ("dev",)
    scores: dict[str, dict[str, float | None]] = {"initial": {}, "final": {}}
    for name, prompt in (("initial", initial), ("final", chosen.prompt)):
        trial = _find(search, prompt)
        scores[name]["train"] = trial.metric if trial is not None and trial.n else None
        for split in splits:  # dev finalists are cached already: free
            outcome = await res.evaluator.aevaluate(prompt, res.task.split(split))
            key = f"{split}_examples_scored"
            budget[key] = budget.get(key, 0) + outcome.model_calls
            scores[name][split] = outcome.score
    chosen_id = _cid(search, chosen.prompt, chosen.method)
    finalists = [
        {
            "id": _cid(search, Prompt.from_text(f["text"]), "?"),
            "train": f["metric"] if f["n"] else None,
            "dev": f["dev"],
        }
        for f in chosen.finalists
    ] or [{"id": chosen_id, **scores["final"]}]
    return {
        "chosen_id": chosen_id,
        "stop_reason": _stop_reason(search, chosen.method),
        "epochs": max((t.step for t in search.trials), default=0),
        "initial": scores["initial"],
        "final": scores["final"],
        "finalists": finalists,
        "budget": budget,
        "operator_usage": {},
        "warm_start": [],
        "refused_incoherent": [],
        "scoring": scoring_path(config.model, program=config.program),
        "dev_interval": list(
            wilson(scores["final"].get("dev") or 0.0, len(res.task.splits.get("dev") or []))
        ),
    }


def _stop_reason(search: Search, method: str) -> str:
    spent = f"{search.train_scored} of {search.budget_examples}"
    if not search.trials:
        return f"{method}: no search (no target-LM train example spent)"
    if search.remaining < len(search.train):
        return f"target-LM example budget spent ({spent})"
    return f"{method} finished its search ({spent} target-LM examples)"


def _find(search: Search, prompt: Prompt) -> Trial | None:
    key = prompt.fingerprint(search.task.template, search.task.verbalizers)
    return next(
        (
            t
            for t in search.trials
            if t.prompt.fingerprint(search.task.template, search.task.verbalizers) == key
        ),
        None,
    )


def _cid(search: RecordedSearch, prompt: Prompt, fallback: str) -> str:
    trial = _find(search, prompt)
    return search.cid(trial) if trial is not None else fallback


def _trial_info(trial: Trial) -> dict[str, Any]:
    """Return what a row shows of a trial (a prompt written but never scored has no score)."""
    score = trial.metric if trial.n else None
    return {"step": trial.step, "origin": trial.origin, "train_score": score}


def _write(res: Resources, search: RecordedSearch, prompt: Prompt, result: dict[str, Any]) -> None:
    """Write candidates, the best prompt, history with its summary row, and the report."""
    task = res.task
    rows = [
        {
            **Candidate(
                search.cid(t), t.prompt.to_dict(), epoch=search.first_row.get(id(t), 0),
                train_score=_trial_info(t)["train_score"],
            ).to_dict(),
            **_trial_info(t),
            "train_objective": t.value if t.n else None,
            "n": t.n,
        }
        for t in search.trials
    ]
    if result["chosen_id"] not in {r["id"] for r in rows}:  # manual, fewshot: not scored
        rows.append(Candidate(result["chosen_id"], prompt.to_dict()).to_dict())
    write_atomic(res.run_dir / CANDIDATES, "".join(json.dumps(r) + "\n" for r in rows))
    write_result(
        res.run_dir, prompt, manual(search), result, result["chosen_id"], search.rows,
        template=task.template, verbalizers=task.verbalizers,
    )
    close_run(res.run_dir)
