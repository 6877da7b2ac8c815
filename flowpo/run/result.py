"""What ``flowpo.optimize`` returns: the run's result dict, plus the chosen prompt and costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowpo.prompt import Prompt
from flowpo.run.rundir import BEST_JSON


class OptimizeResult(dict[str, Any]):
    """The result of a run: a dict as before (``result["final"]["test"]``) with attributes.

    Example:
        >>> r = OptimizeResult({"initial": {"train": 0.5}, "final": {"train": 0.75},
        ...                     "budget": {"llm_calls": 3}, "run_dir": "runs/x"})
        >>> r["final"]["train"], r.scores["final"]["train"], r.costs["llm_calls"], r.paused
        (0.75, 0.75, 3, False)
    """

    @property
    def run_dir(self) -> Path:
        """The run directory (every artefact of the run is there)."""
        return Path(str(self["run_dir"]))

    @property
    def paused(self) -> bool:
        """True when the run waits for a review decision (``approve`` on)."""
        return bool(self.get("paused"))

    @property
    def prompt(self) -> Prompt:
        """The chosen prompt with its frame, label words and calibration (best_prompt.json).

        Raises:
            FileNotFoundError: The run has not chosen a prompt yet (paused or stopped).
        """
        data = json.loads((self.run_dir / BEST_JSON).read_text(encoding="utf-8"))
        return Prompt.from_dict(data["prompt"])

    @property
    def scores(self) -> dict[str, dict[str, float]]:
        """Scores by split of the initial and the final prompt."""
        return {"initial": dict(self.get("initial") or {}), "final": dict(self.get("final") or {})}

    @property
    def costs(self) -> dict[str, float]:
        """What the run spent: target-LM examples scored and cached, LLM calls, seconds."""
        return dict(self.get("budget") or {})
