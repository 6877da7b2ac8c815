"""Live objects of a run (task, models, evaluator, operators), built once per configuration.

The graph's context is the serialisable :class:`~flowpo.config.OptimizeConfig`; nodes
call :func:`resources` to reach what it names, so the state holds only plain data.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from flowpo.config import OptimizeConfig
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.memory import MemoryStore, default_memory_dir, load_embedder
from flowpo.memory.snapshot import READ_FILE, ReadLog, load_snapshot
from flowpo.models.base import TargetLM
from flowpo.models.spec import load_target
from flowpo.operators.actions import format_operators
from flowpo.operators.base import Operator
from flowpo.operators.registry import get_operator, operator_names
from flowpo.run.rundir import EVAL_CACHE
from flowpo.search.scoring import Scorer
from flowpo.tasks import resolve_task
from flowpo.tasks.task import Task


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

    def scorer(self, config: OptimizeConfig) -> Scorer:
        """Return what the scoring functions of :mod:`flowpo.search.scoring` need."""
        return Scorer(
            self.task, self.target, self.evaluator, config.model, self.memory, config.soft_weight
        )


def resources(config: OptimizeConfig) -> Resources:
    """Return the run's live objects (cached per configuration)."""
    return _build(json.dumps(config.model_dump(mode="json"), sort_keys=True))


def rng_for(config: OptimizeConfig, epoch: int, node: str) -> random.Random:
    """Return a generator seeded by (seed, epoch, node): a resumed run draws the same."""
    return random.Random(f"{config.seed}-{epoch}-{node}")


@lru_cache(maxsize=4)
def _build(config_json: str) -> Resources:
    config = OptimizeConfig(**json.loads(config_json))
    if config.run_dir is None:  # rundir.prepare sets it before the graph runs
        raise ValueError("the run configuration has no run_dir")
    task = resolve_task(config.task, seed=config.data_seed, max_input_chars=config.max_input_chars)
    target = _target(config)
    cache = EvalCache(Path(config.run_dir) / EVAL_CACHE)
    evaluator = Evaluator(task, target, cache=cache, max_new_tokens=config.max_new_tokens)
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
