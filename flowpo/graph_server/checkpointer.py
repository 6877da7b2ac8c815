"""The server's checkpointer: SQLite, named by ``langgraph.json``'s ``checkpointer`` entry."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from flowpo.run.requests import Roots

CHECKPOINTS_ENV = "FLOWPO_SERVE_CHECKPOINTS"
SERVER_CHECKPOINTS = "server-checkpoints.sqlite"


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
