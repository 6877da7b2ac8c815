"""The data options: how a data file becomes a task, one definition for every entry point.

``flowpo.EvalConfig`` and ``flowpo.OptimizeConfig`` inherit them, so ``eval``,
``optimize``, ``resume`` (from ``config.yaml``), the Python API and the server's
``config``/context all take the same fields, and :func:`flowpo.config.data_task` builds the
task from them in one place.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DataOptions(BaseModel):
    """How a data file becomes a task: one definition for ``eval``, ``optimize`` and the API.

    ``verbalizers``, ``metric`` and ``template`` also override a built-in task's own.
    """

    input_field: str = Field("input", description="Data file: input column(s), comma-separated.")
    target_field: str = Field("target", description="Data file: target column.")
    labels: str | None = Field(None, description="Data file: labels, comma-separated.")
    verbalizers: str | None = Field(
        None,
        description="Label words, comma-separated, in label order (overrides the task's); "
        "a word may be several tokens (scored as a sequence).",
    )
    metric: str | None = Field(
        None,
        description="Metric name (default: the task's, or accuracy / exact_match); "
        "'judge:<model spec>' grades outputs with an LLM judge and --rubric; "
        "'python:<name>' marks a Python callable given to flowpo.optimize(metric=...).",
    )
    template: str | None = Field(
        None, description="Template with {prompt} and {text} (default: the task's)."
    )
    rubric: str | None = Field(
        None,
        description="With --metric judge:<model spec>: what a good answer is (an LLM judge "
        "grades each output against it, 'Score: N' parsed strictly).",
    )
    split_field: str | None = Field(
        None, description="Data file: column naming each line's split (train/dev/test/pool)."
    )

    def task_options(self) -> dict[str, Any]:
        """Return these options as ``flowpo.resolve_task`` keyword arguments."""

        def split(value: str | None) -> list[str] | None:
            return [v.strip() for v in value.split(",")] if value else None

        return {
            "input_field": self.input_field,
            "target_field": self.target_field,
            "labels": split(self.labels),
            "verbalizers": split(self.verbalizers),
            "metric": None
            if (self.metric or "").startswith(("python:", "judge:"))
            else self.metric,
            "template": self.template,
            "split_field": self.split_field,
        }
