"""Library entry points that the CLI and the server share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flowpo.config import EvalConfig, data_task
from flowpo.errors import ConfigError
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.evaluation.evaluator import Progress
from flowpo.metrics.callables import as_metric
from flowpo.metrics.judge import judge_from_config
from flowpo.models.spec import load_target
from flowpo.prompt import Prompt
from flowpo.tasks.manual import manual_prompt
from flowpo.tasks.task import Task
from flowpo.types import EvalResult


def task_for(config: EvalConfig) -> Task:
    """Return the task a config names (built-in or data file), with overrides applied."""
    return data_task(config)


def prompt_for(config: EvalConfig, task: Task) -> Prompt:
    """Return the prompt a config names: --prompt, --prompt-file, or the manual prompt."""
    if config.prompt is not None and config.prompt_file is not None:
        raise ConfigError(
            "both --prompt and --prompt-file were given",
            field="prompt",
            fix="pass only one of them",
        )
    if config.prompt_file is not None:
        prompt = Prompt.from_file(config.prompt_file)
    elif config.prompt is not None:
        prompt = Prompt.from_text(config.prompt)
    else:
        prompt = Prompt.from_text(manual_prompt(task, list(task.reference_prompts)))
    return prompt


def evaluate(
    config: EvalConfig, *, progress: Progress | None = None
) -> tuple[EvalResult, dict[str, Any]]:
    """Evaluate the configured prompt; return the result and a run summary."""
    task = task_for(config)
    prompt = prompt_for(config, task)
    examples = task.split(config.split)[: config.limit]
    model = load_target(
        config.model,
        device=config.device,
        dtype=config.dtype,
        batch_size=config.batch_size,
        concurrency=config.concurrency,
        timeout=config.request_timeout,
        max_retries=config.max_retries,
        backoff=config.retry_backoff,
    )
    judge = judge_from_config(config.metric, config.rubric)  # --metric judge:<spec>
    evaluator = Evaluator(
        task,
        model,
        cache=EvalCache(config.cache),
        mode=config.mode,
        max_new_tokens=config.max_new_tokens,
        metric=as_metric(judge, examples[0] if examples else None) if judge else None,
    )
    result = evaluator.evaluate(prompt, examples, progress=progress)
    summary = {
        "task": task.name,
        "split": config.split,
        "examples": len(examples),
        "model": getattr(model, "cache_key", model.model_id),
        "mode": evaluator.mode,
        "prompt": prompt.text,
        "template": prompt.template or task.template,
        "verbalizers": {**task.verbalizers, **(prompt.verbalizers or {})},
        "budget": evaluator.budget.as_dict(),
        "model_stats": model.stats.as_dict(),
    }
    return result, summary


def default_output(config: EvalConfig, result: EvalResult) -> Path:
    """Return where ``flowpo eval`` writes its JSON result by default."""
    name = Path(config.task).stem if Path(config.task).suffix else config.task
    model = re.sub(r"[^A-Za-z0-9.]+", "_", config.model).strip("_")  # two models never clash
    return Path("runs") / f"eval-{name}-{config.split}-{model}-{result.prompt_fingerprint}.json"
