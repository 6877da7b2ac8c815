"""Live objects of a run (task, models, evaluator, operators), built once per configuration.

The graph's context is the serialisable :class:`~flowpo.config.OptimizeConfig`; nodes
call :func:`resources` to reach what it names, so the state holds only plain data.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from flowpo.config import OptimizeConfig, data_task
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.evaluation.evaluator import Mode
from flowpo.memory import MemoryStore, default_memory_dir, load_embedder
from flowpo.memory.snapshot import READ_FILE, ReadLog, load_snapshot
from flowpo.metrics.callables import PYTHON_PREFIX, as_metric, registered_metric
from flowpo.metrics.judge import judge_from_config
from flowpo.models.base import TargetLM
from flowpo.models.spec import load_target
from flowpo.operators.actions import Cell, format_operators, run_offers, valid_cells
from flowpo.operators.base import Operator
from flowpo.operators.registry import get_operator, operator_names
from flowpo.programs import PROGRAM_TEMPLATE, load_program
from flowpo.run.rundir import EVAL_CACHE
from flowpo.search.reward import reward_cap, reward_task
from flowpo.search.scorer import Scorer
from flowpo.tasks.task import Task

log = logging.getLogger(__name__)


@dataclass
class Resources:
    """What the nodes of one run share."""

    task: Task
    target: TargetLM
    evaluator: Evaluator
    llm: BaseChatModel
    operators: dict[str, Operator]
    run_dir: Path
    memory: MemoryStore | None = None

    def cells(self, config: OptimizeConfig, rows: list[str], operators: list[str]) -> list[Cell]:
        """Return the valid (row, operator) cells of this run (what the selector may draw)."""
        have = run_offers(
            rows=rows,
            classification=self.task.kind == "classification",
            mode=self.evaluator.mode,
            label_scores=hasattr(self.target, "next_token_logprobs"),
            llm=self.llm is not None,
            demonstrations=bool(self.task.splits.get("pool") or self.task.splits.get("train")),
            memory=self.memory is not None,
            reflection=config.reflect_cases > 0,
        )
        return valid_cells(rows, operators, have)

    def scorer(self, config: OptimizeConfig) -> Scorer:
        """Return what the scoring functions of :mod:`flowpo.search.scoring` need."""
        return Scorer(
            self.task,
            self.target,
            self.evaluator,
            config.model,
            self.memory,
            config.soft_weight,
            self.label_embed(config),
            config.screen_examples,
            refit_start=config.edit_format and not config.method_spec.instruction_only,
        )

    def label_embed(self, config: OptimizeConfig) -> Callable[[Sequence[str]], Any] | None:
        """Return the embedder that keeps label words related (``None``: free search).

        The experience memory's embedder when a memory is attached, else the embedded
        MiniLM, loaded once per process.
        """
        if config.label_words == "free":
            return None
        if self.memory is not None and self.memory.embedder is not None:
            return self.memory.embedder.embed
        return _embed_minilm


def resources(config: OptimizeConfig) -> Resources:
    """Return the run's live objects (cached per configuration)."""
    return _build(json.dumps(config.model_dump(mode="json"), sort_keys=True))


def rng_for(config: OptimizeConfig, epoch: int, node: str) -> random.Random:
    """Return a generator seeded by (seed, epoch, node): a resumed run draws the same."""
    return random.Random(f"{config.seed}-{epoch}-{node}")


@lru_cache(maxsize=1)
def _minilm() -> Any:
    """Return the embedded MiniLM embedder (loaded once per process)."""
    return load_embedder()


def _embed_minilm(texts: Sequence[str]) -> Any:
    """Embed with MiniLM, loading it on first use (a run may never search label words)."""
    return _minilm().embed(texts)


@lru_cache(maxsize=4)
def _build(config_json: str) -> Resources:
    config = OptimizeConfig(**json.loads(config_json))
    if config.run_dir is None:  # run.settings.prepare sets it before the graph runs
        raise ValueError("the run configuration has no run_dir")
    task = data_task(config)
    if config.method_spec.graph:  # flowpo's own search; baselines budget their own way
        full = len(task.splits.get("train") or [])
        task = reward_task(task, reward_cap(config.budget_examples, config.reward_examples))
        if len(task.split("train")) < full:
            log.info(
                "reward set: %d of %d train examples, so that the example budget pays "
                "for several full scorings (reward_examples=0: all)",
                len(task.split("train")),
                full,
            )
    mode: Mode = "auto"
    if config.program:  # a chat program: the prompt is its system message
        target: TargetLM = load_program(config.program, config.run_dir).target()
        task, mode = replace(task, template=PROGRAM_TEMPLATE), "generate"
    else:
        target = _target(config)
    cache = EvalCache(Path(config.run_dir) / EVAL_CACHE)
    metric = None
    if (config.metric or "").startswith(PYTHON_PREFIX):  # flowpo.optimize(metric=<callable>)
        metric = registered_metric(config.run_dir, config.metric or "")
    judge = judge_from_config(config.metric, config.rubric)  # --metric judge:<spec>
    if judge is not None:
        metric = as_metric(judge, next(iter(task.splits.get("train") or []), None))
    evaluator = Evaluator(
        task, target, cache=cache, mode=mode, max_new_tokens=config.max_new_tokens, metric=metric
    )
    names = (
        [n.strip() for n in config.operators.split(",")] if config.operators else operator_names()
    )
    if not config.edit_format:
        names = [n for n in names if n not in format_operators()]
    operators = {name: get_operator(name) for name in names}
    memory = _memory(config) if config.use_memory else None
    return Resources(
        task, target, evaluator, _operator_llm(config), operators, Path(config.run_dir), memory
    )


def _memory(config: OptimizeConfig) -> MemoryStore:
    """Open the run's memory: reads logged to the run directory, limited to a snapshot."""
    path = config.memory_dir or default_memory_dir()
    snap = config.memory_snapshot
    log = ReadLog(Path(str(config.run_dir)) / READ_FILE, path, snap)
    only = load_snapshot(snap) if snap is not None else None
    return MemoryStore(path, load_embedder(config.embedder), only=only, read_log=log)


def _target(config: OptimizeConfig) -> TargetLM:
    options = _model_options(config)
    if config.executor == "ray":
        from flowpo.scale.ray_target import RayTarget

        return RayTarget(
            config.model, options, workers=config.ray_workers, address=config.ray_address
        )
    return load_target(config.model, **options)


def _operator_llm(config: OptimizeConfig) -> BaseChatModel:
    from flowpo.models.chat import LocalChatModel, load_chat_model

    llm = load_chat_model(config.operator_model or config.model, **_model_options(config))
    if isinstance(llm, LocalChatModel):
        llm.max_new_tokens = config.operator_max_tokens
        llm.temperature, llm.top_p, llm.seed = 0.7, 0.9, config.seed
    return llm


def _model_options(config: OptimizeConfig) -> dict[str, Any]:
    """Return the backend options of every model of a run (each backend takes its own)."""
    return {
        "device": config.device,
        "dtype": config.dtype,
        "batch_size": config.batch_size,
        "concurrency": config.concurrency,
        "timeout": config.request_timeout,
        "max_retries": config.max_retries,
        "backoff": config.retry_backoff,
    }
