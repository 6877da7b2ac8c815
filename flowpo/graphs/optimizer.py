"""The optimization loop as a LangGraph ``StateGraph`` (PromptFlow Alg. 1; README, "The optimizer").

    promptflow: START -> init -> evaluate -> review -> reflect -> select -> edit -> evaluate ...
    hybrid:     ... select -> sample (the planned 'gfn' actions) -> edit -> evaluate ...
    gflowpo:    START -> init -> evaluate -> review -> sample -> evaluate ...
    all:        ... review -> finalize -> END

``evaluate`` decides when to stop (patience, epochs, budgets); the routers only read it.
``review`` is a pass-through unless ``approve`` is on (human approval of new best prompts);
a prompt a reviewer edited goes back to ``evaluate`` before the search goes on.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from flowpo.agents.editor import edit
from flowpo.agents.evaluator import evaluate
from flowpo.agents.finalizer import finalize
from flowpo.agents.initializer import init
from flowpo.agents.reflector import reflect
from flowpo.agents.reviewer import review
from flowpo.agents.sampler import sample
from flowpo.agents.selector import select
from flowpo.config import OptimizeConfig
from flowpo.graphs.state import OptimizerState
from flowpo.methods import DEFAULT_METHOD, Method, get_method


def _method(state: OptimizerState) -> Method:
    """Return the run's registered method (its flags route the graph)."""
    return get_method(state.get("method") or DEFAULT_METHOD)


def after_evaluate(state: OptimizerState) -> Literal["reflect", "sample", "finalize"]:
    """Go on with another epoch unless ``evaluate`` recorded a reason to stop."""
    if state.get("stop_reason"):
        return "finalize"
    return "reflect" if _method(state).edits else "sample"


def after_sample(state: OptimizerState) -> Literal["edit", "evaluate"]:
    """A method without edits (GFlowPO alone) scores its samples next; the others edit."""
    return "edit" if _method(state).edits else "evaluate"


def after_select(state: OptimizerState) -> Literal["sample", "edit"]:
    """Hybrid (``sampler_action``) lets the sampler take its planned ``gfn`` actions first."""
    return "sample" if _method(state).sampler_action else "edit"


def after_review(
    state: OptimizerState,
) -> Literal["evaluate", "reflect", "sample", "finalize"]:
    """Score a reviewer's edited prompt first; otherwise go on as ``evaluate`` decided."""
    return "evaluate" if state.get("pending") else after_evaluate(state)


builder = StateGraph(OptimizerState, context_schema=OptimizeConfig)
builder.add_node("init", init)
builder.add_node("evaluate", evaluate)
builder.add_node("reflect", reflect)
builder.add_node("select", select)
builder.add_node("sample", sample)
builder.add_node("edit", edit)
builder.add_node("review", review)
builder.add_node("finalize", finalize)
builder.add_edge(START, "init")
builder.add_edge("init", "evaluate")
builder.add_edge("evaluate", "review")
builder.add_conditional_edges("review", after_review)
builder.add_edge("reflect", "select")
builder.add_conditional_edges("select", after_select)
builder.add_conditional_edges("sample", after_sample)
builder.add_edge("edit", "evaluate")
builder.add_edge("finalize", END)

graph = builder.compile()
"""The compiled graph without a checkpointer (a server or the caller supplies one)."""


def build(checkpointer: Any = None) -> Any:
    """Return the graph compiled with ``checkpointer`` (e.g. a SQLite saver)."""
    return builder.compile(checkpointer=checkpointer)
