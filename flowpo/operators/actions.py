"""The selector's action table, derived from the operators' own declarations.

A drawn action is a (Q-table row, operator) cell. Only valid cells are drawn
(:func:`valid_cells`): an operator that always writes one section or prompt part
(``Operator.writes``) has that row only, and an operator's needs must be met by the run.
The drawn cell is the one run and the one credited. The GFlowPO sampler is an action too
(hybrid method) but no registry operator: it is declared here, bound to the task section.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set

from flowpo.operators.base import (
    BAD_CASES,
    BEAM,
    DEMONSTRATIONS,
    EXAMPLES,
    GENERATION,
    HISTORY,
    LABEL_PREFIX,
    LABEL_SECTIONS,
    LABELS,
    LLM,
    MEMORY,
    PROMPT_PARTS,
    REFLECTION,
    STEPS,
    TASK,
    VERBALIZER,
)
from flowpo.operators.registry import REGISTRY

Cell = tuple[str, str]
"""A (Q-table row, operator) action."""

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



def format_operators() -> dict[str, str]:
    """Return the operators that edit a prompt part (frame, label words), and that part."""
    return {name: part for name, part in bound_sections().items() if part in PROMPT_PARTS}



def label_rows(rows: Iterable[str]) -> list[str]:
    """Return the per-label definition rows (``label: <name>``)."""
    return [r for r in rows if r.startswith(LABEL_PREFIX)]


def valid_cells(rows: Sequence[str], operators: Sequence[str], have: Set[str]) -> list[Cell]:
    """Return the (row, operator) cells the selector may draw, in table order.

    A cell is valid when the operator's needs are all in ``have`` and the operator can
    edit the row: a bound operator (``Operator.writes``, the sampler actions) only its
    own row; an operator that needs label sections only the label rows; any other
    operator the text rows (sections, not the frame, the label words, the demonstrations
    or the reasoning steps, which only their own operators write). The drawn cell is the
    one run and the one credited: nothing is redirected.

    Args:
        rows: The Q table's rows (frozen sections already left out).
        operators: The Q table's operators (and sampler actions).
        have: What this run offers, values of :data:`flowpo.operators.base.NEEDS`
            (see :func:`run_offers`).

    Example:
        >>> valid_cells(["task", "frame", "examples"], ["refine", "frame"], {"llm"})
        [('task', 'refine'), ('frame', 'frame')]
    """
    bound = bound_sections()
    text = [r for r in rows if r not in PROMPT_PARTS and r not in (EXAMPLES, STEPS)]
    cells: list[Cell] = []
    for op in operators:
        cls = REGISTRY.get(op)
        if cls is not None and not cls.needs <= have:
            continue
        if op in bound:
            editable = [bound[op]] if bound[op] in rows else []
        elif cls is not None and LABEL_SECTIONS in cls.needs:
            editable = label_rows(rows)
        else:
            editable = text
        cells += [(row, op) for row in editable]
    order = {r: i for i, r in enumerate(rows)}
    return sorted(cells, key=lambda c: (order[c[0]], list(operators).index(c[1])))


def run_offers(
    *,
    rows: Sequence[str],
    classification: bool,
    mode: str,
    label_scores: bool,
    llm: bool,
    demonstrations: bool,
    memory: bool,
    reflection: bool,
) -> frozenset[str]:
    """Return what a run offers the operators (the ``have`` of :func:`valid_cells`).

    Args:
        rows: The Q table's rows (label sections are offered when some are label rows).
        classification: The task has labels.
        mode: The evaluator's mode, ``verbalizer`` or ``generate``.
        label_scores: The target's next-token scores of label words can be read.
        llm: An operator LM is attached.
        demonstrations: Examples to draw demonstrations from exist.
        memory: An experience memory is attached.
        reflection: The bad-case reflector runs (``reflect_cases > 0``).
    """
    have = {BEAM, HISTORY}
    flags = {
        LABELS: classification,
        VERBALIZER: mode == "verbalizer" and label_scores,
        GENERATION: mode == "generate",
        LLM: llm,
        DEMONSTRATIONS: demonstrations,
        MEMORY: memory,
        REFLECTION: reflection,
        BAD_CASES: reflection,
        LABEL_SECTIONS: bool(label_rows(rows)),
    }
    return frozenset(have | {need for need, ok in flags.items() if ok})
