"""Fan evaluation batches out as Ray tasks: a ``TargetLM`` whose work runs on Ray workers.

The evaluator, its SQLite cache and the LangGraph loop stay in the driver; only the
model calls move. Each batch of texts is split into ``workers`` chunks, one Ray task
each; a worker loads the model once (cached in the worker process) and reuses it for
every later task. A task whose worker dies is retried (``max_retries``) on another.
The same code drives a Ray cluster: the worker spec may be a local model (one copy per
worker, on its GPU when it has one) or an OpenAI-compatible endpoint (vLLM replicas).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from flowpo.errors import ConfigError, FlowpoError, install_hint
from flowpo.models.base import TargetLM

_WORKER_MODELS: dict[str, TargetLM] = {}


def _worker_model(spec: str, options: str) -> TargetLM:
    """Load (once per worker process) the model a task names."""
    from flowpo.models.spec import load_target

    key = f"{spec}|{options}"
    if key not in _WORKER_MODELS:
        _WORKER_MODELS[key] = load_target(spec, **json.loads(options))
    return _WORKER_MODELS[key]


def run_chunk(spec: str, options: str, op: str, args: dict[str, Any]) -> tuple[Any, dict[str, int]]:
    """Do one chunk of model work in a Ray worker; return the result and the stats it cost.

    ``op`` is ``score`` (label log-probs), ``generate``, ``check`` (label words) or
    ``describe`` (model id and cache key).
    """
    lm = _worker_model(spec, options)
    before = lm.stats.as_dict()
    out: Any = None
    if op == "score":
        out = asyncio.run(lm.score_labels(args["prefix"], args["texts"], args["words"]))
    elif op == "generate":
        out = asyncio.run(
            lm.generate(args["prefix"], args["texts"], max_new_tokens=args["max_new_tokens"])
        )
    elif op == "check":
        lm.check_words(args["words"])
    elif op == "describe":
        out = [lm.model_id, str(getattr(lm, "cache_key", lm.model_id))]
    else:
        raise ValueError(f"unknown op {op!r}")
    after = lm.stats.as_dict()
    return out, {k: after[k] - before[k] for k in after}


def ensure_ray(address: str | None, *, num_cpus: int | None = None) -> Any:
    """Start or join Ray once per process; return the ``ray`` module.

    Args:
        address: ``None`` starts a local Ray (offline: no dashboard, no usage stats);
            ``auto``, ``host:port`` or ``ray://host:port`` joins a cluster.
        num_cpus: CPUs of a local Ray (ignored when joining a cluster).

    Raises:
        ConfigError: If Ray is not installed or the address does not answer.
    """
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "the Ray executor needs Ray", field="executor", fix=install_hint("ray")
        ) from exc
    if address and address != "auto":
        _check_reachable(address)
    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    try:
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
    except (ConnectionError, TimeoutError, RuntimeError) as exc:
        raise ConfigError(
            f"cannot join the Ray cluster at {address or 'a new local Ray'} ({exc})",
            field="ray_address",
            fix="start the cluster ('ray start --head'), check the address, or leave "
            "--ray-address unset to start a local Ray",
        ) from None
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at a Ray address (``ray.init`` would wait long)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    host, port = parts.hostname, parts.port or (10001 if parts.scheme == "ray" else 6379)
    if not host:
        raise ConfigError(
            f"bad Ray address {address!r}",
            field="ray_address",
            fix="write 'auto', 'host:6379' or 'ray://host:10001'",
        )
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"the Ray address {address} does not answer ({exc})",
            field="ray_address",
            fix="start the cluster there ('ray start --head'), check host and port, or "
            "leave --ray-address unset to start a local Ray",
        ) from None


class RayTarget(TargetLM):
    """A target model whose scoring and generation run as Ray tasks.

    Args:
        spec: Model spec the workers load (``local:...`` or ``openai-compatible:...``).
        options: Options for ``load_target`` in the workers (device, dtype, batch_size, ...).
        workers: Tasks one batch is split into (at most one per text).
        address: Ray address (see :func:`ensure_ray`).
        max_retries: Retries of a task whose worker died.
    """

    def __init__(
        self,
        spec: str,
        options: dict[str, Any] | None = None,
        *,
        workers: int = 2,
        address: str | None = None,
        max_retries: int = 3,
    ) -> None:
        """Start or join Ray and ask one worker what the model is (loading it there)."""
        super().__init__()
        self.ray = ensure_ray(address, num_cpus=workers)
        self.spec = spec
        self.options = json.dumps(options or {}, sort_keys=True)
        self.workers = workers
        self._task = self.ray.remote(num_cpus=1, max_retries=max_retries)(run_chunk)
        self._checked: set[tuple[str, ...]] = set()
        described, _ = self._get(self._submit("describe", {}))
        self.model_id, self.cache_key = described

    def _submit(self, op: str, args: dict[str, Any]) -> Any:
        return self._task.remote(self.spec, self.options, op, args)

    def _get(self, ref: Any) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None

    def check_words(self, words: list[str]) -> None:
        """Check label words in a worker (remembered per word list)."""
        key = tuple(words)
        if key not in self._checked:
            self._get(self._submit("check", {"words": words}))
            self._checked.add(key)

    async def score_labels(
        self, prefix: str, texts: list[str], words: list[str]
    ) -> list[list[float]]:
        """Score the texts' chunks in parallel Ray tasks."""
        return await self._fan_out("score", prefix, texts, {"words": words})

    async def generate(
        self, prefix: str, texts: list[str], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Generate the texts' chunks in parallel Ray tasks."""
        return await self._fan_out("generate", prefix, texts, {"max_new_tokens": max_new_tokens})

    async def _fan_out(
        self, op: str, prefix: str, texts: list[str], extra: dict[str, Any]
    ) -> list[Any]:
        if not texts:
            return []
        n = min(self.workers, len(texts))
        size = -(-len(texts) // n)
        refs = [
            self._submit(op, {"prefix": prefix, "texts": texts[i : i + size], **extra})
            for i in range(0, len(texts), size)
        ]
        try:
            parts = await asyncio.gather(*refs)
        except self.ray.exceptions.RayTaskError as exc:
            for ref in refs:
                self.ray.cancel(ref)
            raise _cause(exc) from None
        out: list[Any] = []
        for result, stats in parts:
            out.extend(result)
            for key, value in stats.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)
        return out


def _cause(exc: Exception) -> Exception:
    """Return the user-facing error inside a Ray task error, or the task error itself."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, FlowpoError) else exc
