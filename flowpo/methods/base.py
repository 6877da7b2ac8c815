"""The method contract and the strict registry every entry point reads.

A method is either a graph method (the LangGraph loop of :mod:`flowpo.graphs.optimizer`,
whose routers read the method's flags) or a baseline (a function run on a
:class:`~flowpo.baselines.common.Search` with a budget of target-LM examples). The
registry holds plain data only, so :mod:`flowpo.config` can validate names without
importing a model, a graph or a baseline.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowpo.errors import ConfigError

if TYPE_CHECKING:
    from flowpo.baselines.common import BaselineResult, Search

Baseline = Callable[["Search"], Awaitable["BaselineResult"]]
"""A baseline's entry point: runs on a search within its budget, returns its choice."""


@dataclass(frozen=True, kw_only=True)
class Method:
    """One search method: what it is, what it needs, and how it runs.

    Attributes:
        name: The name ``--method`` and ``OptimizeConfig.method`` take.
        description: One line for ``--help`` and the docs.
        needs_llm: Whether it calls the operator LM.
        graph: Runs the LangGraph loop (else ``entry`` runs on a budgeted search).
        edits: Graph: PromptFlow's reflect -> select -> edit step each epoch.
        samples: Graph: GFlowPO's trained prompt-LM samples prompts.
        entry: Baseline: ``"module:function"`` of its entry point (imported on use).
    """

    name: str
    description: str
    needs_llm: bool
    graph: bool
    edits: bool = False
    samples: bool = False
    entry: str | None = None

    def __post_init__(self) -> None:
        """Refuse a contract the runner could not follow."""
        if self.graph and not (self.edits or self.samples):
            raise ValueError(f"graph method {self.name!r} must edit, sample or both")
        if self.graph == (self.entry is not None):
            raise ValueError(f"method {self.name!r}: give an entry exactly when graph is False")

    @property
    def instruction_only(self) -> bool:
        """Return True when the prompt is one instruction (GFlowPO alone, no sections)."""
        return self.samples and not self.edits

    @property
    def sampler_action(self) -> bool:
        """Return True when the selector may pick the sampler (``gfn``) as an action."""
        return self.samples and self.edits

    def load(self) -> Baseline:
        """Return a baseline's entry point.

        Raises:
            ConfigError: The method runs the graph loop (it has no entry point).
        """
        if self.entry is None:
            raise ConfigError(
                f"method {self.name!r} runs the graph loop, it has no baseline entry",
                field="method",
                fix="run it with flowpo.optimize",
            )
        module, attr = self.entry.split(":")
        fn: Baseline = getattr(importlib.import_module(module), attr)
        return fn


METHODS: dict[str, Method] = {}
"""Every method by name, in registration order (built-ins: :mod:`flowpo.methods.catalog`)."""


def register(method: Method) -> Method:
    """Add ``method`` to the registry; a name may be registered once.

    Raises:
        ConfigError: The name is taken.
    """
    if method.name in METHODS:
        raise ConfigError(
            f"a method named {method.name!r} is registered already",
            field="method",
            fix="choose another name",
        )
    METHODS[method.name] = method
    return method


def get_method(name: Any) -> Method:
    """Return the method called ``name``; unknown names list the known ones.

    Raises:
        ConfigError: No method has that name.
    """
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown method {name!r}",
            field="method",
            fix=f"use one of: {', '.join(METHODS)}",
        ) from None


def method_names(*, graph: bool | None = None) -> list[str]:
    """Return the registered names, all or only graph (``True``) / baseline (``False``) ones."""
    return [m.name for m in METHODS.values() if graph is None or m.graph == graph]
