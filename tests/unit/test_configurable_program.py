"""A LangGraph graph with two configurable prompts, both optimized (fake models)."""

from typing import Any

import pytest
from graph_fakes import TINY, fake_models  # noqa: F401
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

import flowpo
from flowpo.configurable import ConfigurableProgram

WORDS = ["cat", "dog", "bird", "fish", "frog", "mouse"]
EXAMPLES = [
    {"input": w, "target": f"{w.upper()}!", "split": s}
    for w, s in zip(WORDS, ["train"] * 4 + ["dev"] * 2, strict=True)
]


class State(TypedDict, total=False):
    question: str
    draft: str
    answer: str


def shout(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Upper case only when its prompt holds a 'Remember:' line."""
    prompt = config["configurable"].get("shout", "")
    word = state["question"]
    return {"draft": word.upper() if "Remember:" in prompt else word}


def exclaim(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Add '!' only when its prompt holds a 'Remember:' line."""
    prompt = config["configurable"].get("exclaim", "")
    return {"answer": state["draft"] + ("!" if "Remember:" in prompt else "")}


def graph():
    builder = StateGraph(State)
    builder.add_node("shout", shout)
    builder.add_node("exclaim", exclaim)
    builder.add_edge(START, "shout")
    builder.add_edge("shout", "exclaim")
    builder.add_edge("exclaim", END)
    return builder.compile()


def parts(example, output):
    """Half for the capitals, half for the exclamation mark."""
    return 0.5 * (output.rstrip("!") == example.target.rstrip("!")) + 0.5 * output.endswith("!")


@pytest.mark.usefixtures("fake_models")
def test_a_two_node_graph_has_both_prompts_optimized(tmp_path):
    program = ConfigurableProgram(
        graph(),
        {"shout": "Write the word in capitals.", "exclaim": "End with an exclamation mark."},
        input_key="question",
    )
    run = {**TINY, "max_epochs": 4, "actions_per_epoch": 2, "patience": 4}
    result = flowpo.optimize(
        program=program, examples=EXAMPLES, metric=parts, run_dir=tmp_path / "r", **run
    )
    assert result["initial"]["train"] == 0.0 and result["final"]["train"] == 1.0
    values = program.values(result.prompt)
    assert set(values) == {"shout", "exclaim"}
    assert all("Remember:" in v for v in values.values())  # both prompts changed
    out = graph().invoke({"question": "owl"}, config={"configurable": values})
    assert out["answer"] == "OWL!"


def test_configurable_fields_of_a_runnable_are_found():
    prompt = PromptTemplate.from_template("Say {q}").configurable_fields(
        template=ConfigurableField(id="say")
    )
    program = ConfigurableProgram(prompt)
    assert program.prompts == {"say": "Say {q}"}
    with pytest.raises(ValueError, match="no prompt"):
        ConfigurableProgram(graph())


@pytest.mark.usefixtures("fake_models")
def test_a_stopped_graph_program_run_resumes(tmp_path):
    from langgraph.runtime import RunControl

    program = ConfigurableProgram(
        graph(), {"shout": "Capitals.", "exclaim": "Exclaim."}, input_key="question"
    )
    control = RunControl()

    def stop_after_first_epoch(event):
        if event.get("event") == "epoch":
            control.request_drain("test")

    run = {**TINY, "max_epochs": 3, "patience": 3}
    with pytest.raises(flowpo.FlowpoError, match="resume"):
        flowpo.optimize(
            program=program,
            examples=EXAMPLES,
            metric=parts,
            run_dir=tmp_path / "r",
            on_event=stop_after_first_epoch,
            control=control,
            **run,
        )
    result = flowpo.resume(tmp_path / "r", program=program, metric=parts)
    assert result["epochs"] >= 1 and result["final"]["train"] >= result["initial"]["train"]


class PairState(TypedDict, total=False):
    question: str
    context: str
    answer: str


def lookup(state: PairState, config: RunnableConfig) -> dict[str, Any]:
    """Answer from the context only when its prompt holds a 'Remember:' line."""
    prompt = config["configurable"].get("lookup", "")
    found = state["context"].split("=")[1] if "Remember:" in prompt else state["question"]
    return {"answer": found}


@pytest.mark.usefixtures("fake_models")
def test_a_graph_reads_several_input_fields_of_each_example(tmp_path):
    builder = StateGraph(PairState)
    builder.add_node("lookup", lookup)
    builder.add_edge(START, "lookup")
    builder.add_edge("lookup", END)
    program = ConfigurableProgram(builder.compile(), {"lookup": "Answer the question."})
    rows = [
        {"question": f"colour of {w}?", "context": f"{w}={w[::-1]}", "target": w[::-1],
         "split": s}
        for w, s in zip(WORDS, ["train"] * 4 + ["dev"] * 2, strict=True)
    ]
    run = {**TINY, "max_epochs": 4, "actions_per_epoch": 2, "patience": 4}
    result = flowpo.optimize(
        program=program, examples=flowpo.Dataset.from_rows(
            rows, input_field="question,context", target_field="target"
        ), metric="exact_match", run_dir=tmp_path / "r", **run,
    )
    # Both fields reach the graph: the start answers with the question (0), the optimized
    # prompt reads the context (1).
    assert result["initial"]["train"] == 0.0 and result["final"]["train"] == 1.0
