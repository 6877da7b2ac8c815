"""DSPy COPRO and MIPROv2 on the embedded model, through an OpenAI-compatible server."""

from __future__ import annotations

import importlib.util
from typing import Any


def unavailable(server: str | None) -> str | None:
    """Return why the DSPy peer cannot run here, or ``None`` when it can."""
    if importlib.util.find_spec("dspy") is None:
        return "dspy is not installed (pip install -e '.[bench]')"
    if server:
        return None
    from flowpo.cli import COMMANDS

    if not any("serve" in c for c in COMMANDS):
        return "no OpenAI-compatible server of the embedded model ('flowpo serve-model')"
    return None


def run(env: Any, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    raise NotImplementedError
