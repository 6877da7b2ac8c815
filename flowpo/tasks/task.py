"""The Task type: examples by split, metric, labels, verbalizers, template, input format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from flowpo.errors import DataError
from flowpo.prompt import DEFAULT_TEMPLATE, check_template
from flowpo.tasks.formatting import format_input
from flowpo.types import Example

Kind = Literal["classification", "generation"]
SPLITS = ("train", "dev", "test", "pool")
"""train = reward set, dev = validation (selection), test = report once, pool = the rest
(demonstrations drawn disjoint from the reward set)."""


@dataclass
class Task:
    """A prompt-optimization task.

    Attributes:
        name: Registry name (``sst2``) or the data file's stem.
        kind: ``classification`` (scored by verbalizer) or ``generation`` (decode+metric).
        metric: Name of the metric in ``flowpo.metrics``.
        labels: Label names, in label-id order (classification only).
        verbalizers: Label -> the word the target model is scored on.
        template: Where the prompt and the formatted input go.
        input_format: Name of the formatter in ``flowpo.tasks.formatting``.
        description: One line saying what the task is.
        splits: Examples by split name.
        source: Where the data came from.
        reference_prompts: Human-written instructions shipped with the data, if any.
    """

    name: str
    kind: Kind
    metric: str
    labels: tuple[str, ...] = ()
    verbalizers: dict[str, str] = field(default_factory=dict)
    template: str = DEFAULT_TEMPLATE
    input_format: str = "text"
    description: str = ""
    splits: dict[str, list[Example]] = field(default_factory=dict)
    source: str = ""
    reference_prompts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Validate the parts that do not depend on a model."""
        check_template(self.template, where=f"task {self.name}")
        if self.kind == "classification":
            if not self.labels:
                raise DataError(
                    "a classification task needs labels",
                    where=f"task {self.name}",
                    field="labels",
                    fix="pass --labels a,b,c",
                )
            missing = [lab for lab in self.labels if lab not in self.verbalizers]
            if missing:
                raise DataError(
                    f"labels without a verbalizer: {missing}",
                    where=f"task {self.name}",
                    field="verbalizers",
                    fix="give one word per label, e.g. --verbalizers no,yes",
                )

    def format_input(self, example: Example) -> str:
        """Return the example's input as the text that fills ``{text}``."""
        return format_input(self.input_format, example)

    def split(self, name: str) -> list[Example]:
        """Return the examples of split ``name``; raise a clear error if absent or empty."""
        if name not in self.splits:
            have = ", ".join(k for k, v in self.splits.items() if v) or "none"
            raise DataError(
                f"task {self.name!r} has no split {name!r}",
                field="split",
                fix=f"use one of: {have}",
            )
        examples = self.splits[name]
        if not examples:
            raise DataError(
                f"split {name!r} of task {self.name!r} is empty",
                field="split",
                fix="choose another split or add examples to the data file",
            )
        return examples

    def sizes(self) -> dict[str, int]:
        """Return the number of examples in each split."""
        return {k: len(v) for k, v in self.splits.items()}
