"""One error style for everything a user can get wrong: what, where, and the fix."""

from __future__ import annotations


class FlowpoError(Exception):
    """A user-facing error that says what is wrong, where, and how to fix it.

    Args:
        what: What is wrong, in plain words.
        where: The file (and line) or the place the problem was found.
        field: The field, flag or key at fault.
        fix: How to fix it.
    """

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        """Keep the parts so callers can inspect them, and build the message."""
        self.what = what
        self.where = where
        self.field = field
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Render the error as one readable message."""
        head = f"{self.where}: " if self.where else ""
        field = f" (field '{self.field}')" if self.field else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{head}{self.what}{field}.{fix}"


class DataError(FlowpoError, ValueError):
    """Bad task data: a malformed file, a missing field, a label outside the set."""


class ConfigError(FlowpoError, ValueError):
    """A bad setting: an unknown model spec, a template without {text}."""


class ModelError(FlowpoError, RuntimeError):
    """A model that cannot do what was asked: a missing file, an unreachable endpoint."""


class RunStopped(FlowpoError, RuntimeError):
    """A run stopped before its end on request (Ctrl-C); its last checkpoint is saved."""


EXTRAS = {
    "serve": "the model server, 'flowpo serve-model' (starlette, uvicorn)",
    "server": "the LangGraph server, 'flowpo serve' (langgraph-cli[inmem], langgraph-sdk)",
    "ray": "the Ray executor (ray)",
    "postgres": "the Postgres checkpointer (psycopg, langgraph-checkpoint-postgres)",
    "gfn": "GFlowPO's LoRA training (peft)",
    "phoenix": "Arize Phoenix tracing (arize-phoenix, langsmith[otel])",
}
"""Optional extras of pyproject.toml and what each one brings (used in install hints)."""


def install_hint(extra: str) -> str:
    """Return how to install an extra from a flowpo clone (flowpo is not on PyPI).

    Args:
        extra: A key of :data:`EXTRAS`, e.g. ``serve`` (not ``server``: see EXTRAS).
    """
    return (
        f"from the flowpo clone: pip install -e '.[{extra}]' (extra '{extra}': "
        f"{EXTRAS[extra]}), or 'make install'"
    )
