"""Operator-selector policy of PromptFlow: a Q table over (section, operator) actions.

MSGD (PromptFlow eq. 2-3, appendix "Case Study") scales an action's Q by the relative
score change of the child prompt; MSGD-RL (eq. 5/7) updates it with SARSA. Actions are
drawn from a tempered distribution over Q with epsilon exploration, optionally weighted
per section (weak label definitions first). Pure Python: no LangGraph, LLM or torch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Q_FLOOR = 1e-6
"""Smallest Q value kept, so a value never reaches zero or flips sign."""

Action = tuple[str, str]


@dataclass
class QTable:
    """Hold Q(section, operator), the selection values of PromptFlow's transition matrix.

    Attributes:
        sections: Row names (prompt sections), in order.
        operators: Column names (operator names), in order.
        values: ``values[section][operator]``; every cell must be present.
    """

    sections: list[str]
    operators: list[str]
    values: dict[str, dict[str, float]]

    def __post_init__(self) -> None:
        """Check that every (section, operator) cell has a value."""
        for s in self.sections:
            row = self.values.get(s)
            if row is None or any(a not in row for a in self.operators):
                raise ValueError(f"QTable row {s!r} lacks a value for some operator")

    @classmethod
    def uniform(cls, sections: list[str], operators: list[str]) -> QTable:
        """Build the uniform start ``1/(sections x operators)`` (PromptFlow appendix)."""
        u = 1.0 / max(1, len(sections) * len(operators))
        return cls(
            list(sections), list(operators), {s: dict.fromkeys(operators, u) for s in sections}
        )

    @classmethod
    def prior(cls, sections: list[str], operators: list[str], cells: Sequence[Action]) -> QTable:
        """Build the start where each row (section) with a valid cell is equally likely.

        PromptFlow's uniform ``1/(sections x operators)`` gives every section the same
        mass; this prior keeps that per-section mass and spreads it over the section's
        valid cells only, instead of over cells no operator can use. So the frame row, which
        only the frame operator edits, is drawn as often as the task row, on which nine
        operators share the mass. Cells outside ``cells`` keep the uniform value: they are
        never drawn.
        """
        q = cls.uniform(sections, operators)
        ops_of: dict[str, list[str]] = {}
        for s, a in cells:
            ops_of.setdefault(s, []).append(a)
        for s, ops in ops_of.items():
            for a in ops:
                q.set(s, a, 1.0 / (len(ops_of) * len(ops)))
        return q

    @property
    def uniform_value(self) -> float:
        """Return ``1/(sections x operators)`` for this table's shape."""
        return 1.0 / max(1, len(self.sections) * len(self.operators))

    def get(self, section: str, operator: str) -> float:
        """Return Q(section, operator); raise KeyError for an unknown cell."""
        return self.values[section][operator]

    def set(self, section: str, operator: str, value: float) -> None:
        """Store Q(section, operator); raise KeyError for an unknown cell."""
        if section not in self.values or operator not in self.values[section]:
            raise KeyError((section, operator))
        if not math.isfinite(value):
            raise ValueError(f"Q value must be finite, got {value}")
        self.values[section][operator] = float(value)

    def mean(self) -> float:
        """Return the mean over all cells (0.0 for an empty table)."""
        cells = [self.values[s][a] for s in self.sections for a in self.operators]
        return sum(cells) / len(cells) if cells else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy (for graph state and the experience memory)."""
        return {
            "sections": list(self.sections),
            "operators": list(self.operators),
            "values": {s: {a: self.values[s][a] for a in self.operators} for s in self.sections},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QTable:
        """Rebuild a table written by :meth:`to_dict`."""
        sections, operators = list(data["sections"]), list(data["operators"])
        raw = data["values"]
        values = {s: {a: float(raw[s][a]) for a in operators} for s in sections}
        return cls(sections, operators, values)

    def add_section(self, name: str) -> None:
        """Add a row for a section created mid-run (e.g. few-shot examples).

        The new row starts at the mean of the existing values (``1/len(operators)`` for an
        empty table), so it is neither favoured nor starved. Adding an existing section is a
        no-op, which keeps graph nodes idempotent.
        """
        if name in self.values:
            return
        start = self.mean() if self.sections else 1.0 / max(1, len(self.operators))
        self.sections.append(name)
        self.values[name] = dict.fromkeys(self.operators, start)

    def restrict(self, sections: list[str]) -> QTable:
        """Return a view over only ``sections`` (editable rows); rows are shared, not copied.

        Raises:
            KeyError: A section is not in the table.
        """
        return QTable(list(sections), list(self.operators), {s: self.values[s] for s in sections})

    def blend(self, others: list[tuple[QTable, float]], *, own_weight: float = 1.0) -> QTable:
        """Build a warm-start table from this table (the run's prior) and past runs' tables.

        This table takes part with weight ``own_weight``, so a warm start shifts the prior
        instead of replacing it: the prior knows this run's valid cells and row masses, which
        a past run's table (another action space, another selector) may not. Each other table
        is first rescaled so its mean is this table's mean (tables of different sizes become
        comparable). Cells are matched by section and operator name; a cell an other table
        lacks takes this table's value, and operators only the other table has are ignored.
        The weighted average is rescaled so its mean is this table's mean again. No others,
        or all their weights 0, gives a copy of this table.

        Args:
            others: ``(table, weight)`` pairs, weights >= 0 (e.g. task similarities).
            own_weight: This table's weight (>= 0); 0 lets the others' values replace it.

        Returns:
            A new table with this table's sections and operators.
        """
        if own_weight < 0 or any(w < 0 for _, w in others):
            raise ValueError("blend weights must be >= 0")
        out = QTable.from_dict(self.to_dict())
        past = sum(w for _, w in others)
        mean = self.mean()
        if past <= 0 or not self.sections or not self.operators or mean <= 0:
            return out
        total = past + own_weight
        for s in self.sections:
            for a in self.operators:
                own = self.values[s][a]
                acc = own_weight * own
                for table, w in others:
                    m = table.mean()
                    scale = mean / m if m > 0 else 1.0
                    has = s in table.values and a in table.operators
                    acc += w * (table.values[s][a] * scale if has else own)
                out.values[s][a] = acc / total
        m = out.mean()
        for row in out.values.values():
            for a in row:
                row[a] = max(Q_FLOOR, row[a] * mean / m)
        return out


def action_probabilities(
    q: QTable,
    *,
    temperature: float = 1.0,
    epsilon: float = 0.1,
    sections: list[str] | None = None,
    section_weights: Mapping[str, float] | None = None,
    cells: Sequence[Action] | None = None,
    uniform: bool = False,
) -> dict[Action, float]:
    """Return the probability of each action under :func:`sample_actions`' first draw.

    Logits are ``log(Q) / temperature``, so at temperature 1 an action is drawn with
    probability proportional to Q, which PromptFlow eq. 2 defines as a normalised selection
    probability over the (section, operator) cells. The rule ignores Q's overall scale
    (Q ~ 0.06 is not flattened, unlike ``softmax(Q)``); temperature < 1 sharpens it. Each
    action's weight is multiplied by its section's weight (default 1; a 0 weight removes
    the row). With probability ``epsilon`` the draw is uniform over the allowed actions.
    ``cells`` restricts the actions to the valid ones; ``uniform`` ignores Q and the
    section weights (the ablation baseline of the learnt selector).
    """
    actions, weights = _candidates(
        q, temperature, epsilon, sections, section_weights, cells, uniform
    )
    total = sum(weights)
    n = len(actions)
    return {
        act: epsilon / n + (1 - epsilon) * (w / total if total > 0 else 1 / n)
        for act, w in zip(actions, weights, strict=True)
    }


def _candidates(
    q: QTable,
    temperature: float,
    epsilon: float,
    sections: list[str] | None,
    section_weights: Mapping[str, float] | None,
    cells: Sequence[Action] | None = None,
    uniform: bool = False,
) -> tuple[list[Action], list[float]]:
    """Check the arguments; list the allowed actions and their unnormalised weights."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    rows = q.sections if sections is None else sections
    sw = dict(section_weights or {})
    if any(w < 0 for w in sw.values()):
        raise ValueError("section weights must be >= 0")
    actions = [(s, a) for s in rows if sw.get(s, 1.0) > 0 for a in q.operators]
    if cells is not None:
        valid = set(cells)
        actions = [act for act in actions if act in valid]
    if not actions:
        raise ValueError("no action to sample: no sections, operators or positive weights")
    if uniform:
        return actions, [1.0] * len(actions)
    logits = [math.log(max(Q_FLOOR, q.get(s, a))) / temperature for s, a in actions]
    top = max(logits)
    weights = [
        sw.get(s, 1.0) * math.exp(z - top) for (s, _), z in zip(actions, logits, strict=True)
    ]
    return actions, weights


def sample_actions(
    q: QTable,
    k: int,
    rng: random.Random,
    *,
    temperature: float = 1.0,
    epsilon: float = 0.1,
    sections: list[str] | None = None,
    section_weights: Mapping[str, float] | None = None,
    distinct: bool = True,
    cells: Sequence[Action] | None = None,
    uniform: bool = False,
) -> list[Action]:
    """Draw ``k`` (section, operator) actions (see :func:`action_probabilities`).

    Args:
        q: The Q table.
        k: Number of actions.
        rng: Random source (seed it for reproducible runs).
        temperature: Softmax temperature over ``log(Q)``.
        epsilon: Probability that a draw is uniform over the allowed actions.
        sections: Rows to sample from (the caller leaves frozen sections out).
        section_weights: Per-section probability multipliers >= 0 (:func:`section_credit`).
        distinct: No repeats within one call until every allowed action has been drawn.
        cells: Only these actions may be drawn (the valid cells; default: every cell).
        uniform: Draw uniformly over the allowed actions, ignoring Q and section weights.

    Returns:
        The actions, in draw order.
    """
    actions, weights = _candidates(
        q, temperature, epsilon, sections, section_weights, cells, uniform
    )
    out: list[Action] = []
    pool = list(range(len(actions)))
    for _ in range(max(0, k)):
        if not pool:
            pool = list(range(len(actions)))
        ws = [weights[i] for i in pool]
        if rng.random() < epsilon or sum(ws) <= 0:
            pick = rng.randrange(len(pool))
        else:
            pick = rng.choices(range(len(pool)), weights=ws)[0]
        out.append(actions[pool[pick]])
        if distinct:
            pool.pop(pick)
    return out


RARE_RECALL = 0.25
"""A label recognised at most this often counts as not recognised (:func:`one_class`)."""


def one_class(per_label: Mapping[str, Mapping[str, float]]) -> bool:
    """Return whether a prompt's predictions collapsed onto one label.

    True when at least two labels have examples and at most one of them is recognised
    more often than :data:`RARE_RECALL`: the target answers (nearly) the same word
    whatever the input.

    Example:
        >>> neg, pos = {"recall": 1.0, "support": 16}, {"recall": 0.0625, "support": 16}
        >>> one_class({"neg": neg, "pos": pos}), one_class({"neg": neg, "pos": neg})
        (True, False)
    """
    present = [m for m in per_label.values() if float(m.get("support", 0)) > 0]
    recognised = sum(float(m.get("recall", 0)) > RARE_RECALL for m in present)
    return len(present) >= 2 and recognised <= 1


def section_credit(
    per_label: Mapping[str, Mapping[str, float]],
    sections: list[str],
    label_of_section: Callable[[str], str | None],
    boost: float = 2.0,
    bias_rows: Collection[str] = (),
) -> dict[str, float]:
    """Weight sections so weak label definitions get edited first.

    A section tied to a label (``label_of_section`` returns it and ``per_label`` has it)
    gets ``1 + (1 - f1) * boost`` (f1 clipped to [0, 1]); other sections get 1. When the
    predictions collapsed onto one label (:func:`one_class`), the ``bias_rows`` (the
    frame, the label words) get ``1 + boost`` instead and the label sections 1: a target
    that answers one word for every input follows its answer prior, not a label's
    definition, and a frame or label-word edit is what moves that prior. Weights are
    then scaled so their mean over ``sections`` is 1.

    Args:
        per_label: The evaluator's ``{label: {"precision", "recall", "f1", "support"}}``.
        sections: Sections to weight.
        label_of_section: Maps a section name to its label, or None.
        boost: Extra weight for a label with F1 0 (or for a bias row after a collapse).
        bias_rows: Rows that edit the answer prior (frame, label words).

    Returns:
        ``{section: weight}``, for :func:`sample_actions`' ``section_weights``.
    """
    def weakness(s: str) -> float:  # 1 - f1 of the section's label, 0 for other sections
        label = label_of_section(s)
        if label is None or label not in per_label:
            return 0.0
        return 1.0 - min(1.0, max(0.0, float(per_label[label]["f1"])))

    if one_class(per_label) and any(s in bias_rows for s in sections):
        raw = {s: 1.0 + boost if s in bias_rows else 1.0 for s in sections}
    else:
        raw = {s: 1.0 + weakness(s) * boost for s in sections}
    total = sum(raw.values())
    if total <= 0:
        return dict.fromkeys(sections, 1.0)
    return {s: w * len(raw) / total for s, w in raw.items()}
