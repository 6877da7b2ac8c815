"""Checks that run before any work: a bad endpoint, Ray address or Postgres URL fails first."""

from __future__ import annotations

from flowpo.config import OptimizeConfig
from flowpo.models.spec import parse_spec


async def check_remote_logprobs(spec: str, *, concurrency: int = 1) -> None:
    """Ask a remote target for one token with log-probs; raise if it gives none.

    Raises:
        ModelError: If the endpoint is unreachable or returns no log-probs.
    """
    from flowpo.models.remote import RemoteLM

    parsed = parse_spec(spec)
    lm = RemoteLM(parsed.model, base_url=parsed.base_url, concurrency=concurrency, max_retries=0)
    try:
        await lm.check_logprobs()
    finally:
        await lm.aclose()


async def preflight(config: OptimizeConfig) -> None:
    """Fail fast on settings that would break a run later.

    * a remote target asked for verbalizer scoring (classification task) must return
      log-probs;
    * a Ray address must answer (``executor = "ray"``), and Ray starts here;
    * a Postgres checkpointer URL must accept a connection.

    Raises:
        ConfigError: For an unreachable Ray address or Postgres server.
        ModelError: For a remote target without log-probs (or unreachable).
    """
    if config.checkpointer is not None:
        from flowpo.run.checkpoints import connect_postgres

        conn = await connect_postgres(config.checkpointer)
        await conn.close()
    if config.executor == "ray":
        from flowpo.scale.ray_target import ensure_ray

        ensure_ray(config.ray_address, num_cpus=config.ray_workers)
    if parse_spec(config.model).provider != "local":
        from flowpo.config import data_task

        task = data_task(config)
        if task.kind == "classification":
            await check_remote_logprobs(config.model)
