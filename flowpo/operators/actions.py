"""The selector's action table, derived from the operators' own declarations.

A drawn action is a (Q-table row, operator) pair. Operators that always write one
section or prompt part (``Operator.writes``) are bound to it whatever row was drawn, and
the rows of prompt parts that only their own operator can edit (``Operator.owns_row``)
redirect other operators to that owner. The GFlowPO sampler is an action too (hybrid
method) but no registry operator: it is declared here, bound to the task section.
"""

from __future__ import annotations

from flowpo.operators.base import PROMPT_PARTS, TASK
from flowpo.operators.registry import REGISTRY

GFN = "gfn"
"""The GFlowPO sampler's action: its column in the selector's Q table (hybrid)."""
SAMPLER_ACTIONS: dict[str, str] = {GFN: TASK}
"""Actions run by a sampler node rather than an operator, and the section each writes."""


def bound_sections() -> dict[str, str]:
    """Return the actions bound to one section or prompt part, and that part.

    Raises:
        ValueError: If a registered operator has a sampler action's name.
    """
    clash = sorted(set(REGISTRY) & set(SAMPLER_ACTIONS))
    if clash:
        raise ValueError(f"operator names {clash} are reserved for sampler actions")
    bound = {name: cls.writes for name, cls in REGISTRY.items() if cls.writes is not None}
    return {**bound, **SAMPLER_ACTIONS}


def row_owners() -> dict[str, str]:
    """Return the Q-table rows only one operator can edit, and that operator's name.

    Raises:
        ValueError: If two operators claim the same row.
    """
    owners: dict[str, str] = {}
    for name, cls in sorted(REGISTRY.items()):
        if cls.owns_row is None:
            continue
        if cls.owns_row in owners:
            raise ValueError(
                f"operators {owners[cls.owns_row]!r} and {name!r} both own row {cls.owns_row!r}"
            )
        owners[cls.owns_row] = name
    return owners


def format_operators() -> dict[str, str]:
    """Return the operators that edit a prompt part (frame, label words), and that part."""
    return {name: part for name, part in bound_sections().items() if part in PROMPT_PARTS}


def bind(section: str, op: str, available: list[str]) -> tuple[str, str]:
    """Return the action actually run for a drawn (section, operator) pair.

    A row owned by an operator runs that owner when it is ``available`` (unless the drawn
    operator is bound to the row already); a bound operator then writes its own part.

    Args:
        section: The drawn Q-table row.
        op: The drawn operator (or sampler action).
        available: The operators of this run's Q table.

    Returns:
        The (section, operator) pair to run.

    Example:
        >>> bind("label: positive", "cot", ["cot", "refine"])
        ('steps', 'cot')
        >>> bind("frame", "refine", ["frame", "refine"])
        ('frame', 'frame')
    """
    bound, owners = bound_sections(), row_owners()
    if section in owners and bound.get(op) != section and owners[section] in available:
        op = owners[section]
    return bound.get(op, section), op
