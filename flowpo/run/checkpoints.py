"""Open checkpointers: a run's (SQLite in its run directory, or shared PostgreSQL) and the server's.

* :func:`open_saver`: the checkpointer an optimization run names. With Postgres, several
  workers (or a LangGraph server) share one database; each run is one thread, named after
  its run directory (:func:`thread_for`), so runs never see each other's checkpoints.
* :func:`sqlite_checkpointer`: the LangGraph server's SQLite checkpointer, named by
  ``langgraph.json``'s ``checkpointer`` entry (README, "A LangGraph server").
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError, DataError, install_hint
from flowpo.run.requests import Roots
from flowpo.run.rundir import CHECKPOINTS

CHECKPOINTS_ENV = "FLOWPO_SERVE_CHECKPOINTS"
SERVER_CHECKPOINTS = "server-checkpoints.sqlite"
RECURSION_LIMIT = 100_000


def thread_for(config: OptimizeConfig) -> dict[str, Any]:
    """Return the graph config naming the run's thread.

    SQLite keeps one run per file, so its thread is ``run``; in a shared Postgres
    database the thread is the run directory's absolute path.
    """
    run_dir = Path(str(config.run_dir)).resolve()
    thread = "run" if config.checkpointer is None else f"flowpo:{run_dir}"
    return {"configurable": {"thread_id": thread}, "recursion_limit": RECURSION_LIMIT}


def redact(url: str) -> str:
    """Return ``url`` without its password (for error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


async def connect_postgres(url: str, *, timeout: float = 10.0) -> Any:
    """Open an autocommit connection for the Postgres checkpointer, or raise ``ConfigError``.

    Raises:
        ConfigError: If the ``[postgres]`` extra is missing or the server refuses.
    """
    try:
        from psycopg import AsyncConnection, OperationalError
        from psycopg.rows import dict_row
    except ImportError as exc:
        raise ConfigError(
            "the Postgres checkpointer needs psycopg and langgraph-checkpoint-postgres",
            field="checkpointer",
            fix=install_hint("postgres"),
        ) from exc
    try:
        return await AsyncConnection.connect(
            url,
            autocommit=True,
            prepare_threshold=0,
            row_factory=dict_row,
            connect_timeout=max(1, int(timeout)),
        )
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to the Postgres checkpointer {redact(url)} ({reason})",
            field="checkpointer",
            fix="check that PostgreSQL runs there and accepts this user and database "
            "(psql '<url>' -c 'select 1'), or leave --checkpointer unset for SQLite",
        ) from None


@asynccontextmanager
async def open_saver(config: OptimizeConfig) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Yield the checkpointer ``config`` names, ready to use (tables created)."""
    if config.checkpointer is None:
        path = str(Path(str(config.run_dir)) / CHECKPOINTS)
        try:
            async with AsyncSqliteSaver.from_conn_string(path) as saver:
                yield saver
        except sqlite3.DatabaseError as e:
            raise DataError(
                f"the checkpoint database is damaged ({e})",
                where=path,
                fix="start a new run; the evaluation cache in the run directory still "
                "makes already-scored prompts free",
            ) from None
        return
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    conn = await connect_postgres(config.checkpointer)
    async with conn:
        postgres = AsyncPostgresSaver(conn=conn)
        await postgres.setup()  # idempotent: creates or migrates the checkpoint tables
        yield postgres


async def has_checkpoint(saver: BaseCheckpointSaver[Any], thread: dict[str, Any]) -> bool:
    """Return True when the run's thread already has a checkpoint."""
    return await saver.aget_tuple(cast(RunnableConfig, thread)) is not None


def checkpoints_path() -> Path:
    """Return ``$FLOWPO_SERVE_CHECKPOINTS``, else ``<runs dir>/server-checkpoints.sqlite``."""
    given = os.environ.get(CHECKPOINTS_ENV)
    return Path(given) if given else Roots.from_env().runs / SERVER_CHECKPOINTS


@asynccontextmanager
async def sqlite_checkpointer() -> AsyncIterator[AsyncSqliteSaver]:
    """Open the server's SQLite checkpointer for the server's lifetime."""
    path = checkpoints_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver
