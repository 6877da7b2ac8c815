"""The optimizer's graph state: small, serialisable, every accumulating field with a reducer.

Live objects (models, caches, operators) are never in state; nodes reach them through
the run configuration (the graph's context) and :mod:`flowpo.graphs.resources`.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def add_counts(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """Reduce budget deltas: add every counter of ``new`` to ``old``."""
    out = dict(old or {})
    for key, value in (new or {}).items():
        out[key] = out.get(key, 0) + value
    return out


def spent_examples(state: Any) -> float:
    """Return the target-LM train examples the run has scored so far."""
    return float((state.get("budget") or {}).get("examples_scored", 0.0))


def add_nested_counts(
    old: dict[str, dict[str, float]] | None, new: dict[str, dict[str, float]] | None
) -> dict[str, dict[str, float]]:
    """Reduce per-operator usage deltas: ``{operator: {counter: delta}}``."""
    out = {k: dict(v) for k, v in (old or {}).items()}
    for key, counts in (new or {}).items():
        out[key] = add_counts(out.get(key), counts)
    return out


class OptimizerState(TypedDict, total=False):
    """One optimization run.

    Candidates are ``Candidate.to_dict()`` dicts; actions are
    ``{section, operator, parent_id, parent_score, candidate_id, failed, reason}``.
    """

    epoch: int
    initial: dict[str, Any]
    """The initial candidate, scored."""
    pending: list[dict[str, Any]]
    """Candidates made this epoch, not yet evaluated."""
    beam: list[dict[str, Any]]
    """Top-k plus simulated-annealing picks, best first."""
    archive: list[dict[str, Any]]
    """Best evaluated candidates of the run (capped): the RAG operator's store."""
    seen: list[str]
    """Fingerprints of every prompt already evaluated (no prompt is scored twice)."""
    best: dict[str, Any]
    reserve: list[dict[str, Any]]
    """Scored starts kept out of the search (a held-back retrieving start): still finalists."""
    q: dict[str, Any]
    """The Q table over (section, operator), ``QTable.to_dict()``."""
    plan: list[dict[str, Any]]
    """Actions chosen by ``select`` for ``edit``."""
    last_actions: list[dict[str, Any]]
    """Actions of the last ``edit`` with their outcomes once evaluated."""
    reflection: dict[str, Any]
    stale: int
    """Epochs since the best train loss last improved by more than ``tol``."""
    stop_reason: str | None
    sampler_stop: str | None
    """Why GFlowPO alone cannot go on (its example budget cannot pay one step)."""
    history: Annotated[list[dict[str, Any]], operator.add]
    """One row per epoch."""
    usage: Annotated[dict[str, dict[str, float]], add_nested_counts]
    """Per operator: chosen, failed, improved, gain."""
    budget: Annotated[dict[str, float], add_counts]
    """examples_scored, examples_cached, tokens, llm_calls, seconds."""
    warm_start: list[dict[str, Any]]
    """Past tasks whose Q tables seeded this run's (experience memory)."""
    method: str
    """The run's search method (the routers read it)."""
    gfn: dict[str, Any]
    """GFlowPO learner state: step, EMA log Z, replay buffer, DMU queue (text and numbers)."""
    gfn_actions: list[dict[str, Any]]
    """Hybrid: this epoch's ``gfn`` actions, taken by ``sample`` before ``edit``."""
    approved: list[str]
    """Ids of the best prompts a human approved (``approve`` on); the review node owns it."""
    result: dict[str, Any]
    """What ``finalize`` found: the chosen prompt and its dev/test scores."""
