"""A LangChain chat program on the embedded model, optimized through flowpo.optimize."""

import asyncio
from dataclasses import replace

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import flowpo
from flowpo.metrics.callables import as_metric
from flowpo.models.chat import LocalChatModel
from flowpo.programs import PROGRAM_TEMPLATE, ChatProgram, ProgramTarget

pytestmark = pytest.mark.slow


def plural(example, output):
    """A Python metric: the answer holds the plural as a word."""
    words = [w.strip(".,!\"'*:") for w in output.lower().split()]
    ok = example.target.lower() in words
    return float(ok), None if ok else f"expected {example.target!r}"


START = "Write the plural form of the given English word."
"""Plausible but weak: it does not say to answer with the word alone, and the model echoes it."""


def test_chain_is_optimized_and_its_export_reproduces_the_evaluator(embedded, tmp_path):
    llm = LocalChatModel(lm=embedded, max_new_tokens=8)
    chain = ChatPromptTemplate([("system", START), ("human", "{question}")]) | llm
    chain = chain | StrOutputParser()
    task = flowpo.load_task("singular_to_plural")
    rows = [
        {"input": e.input, "target": e.target, "split": split}
        for split, n in (("train", 12), ("dev", 12), ("test", 20))
        for e in task.split(split)[:n]
    ]
    result = flowpo.optimize(
        program=chain,
        examples=rows,
        metric=plural,
        max_epochs=3,
        actions_per_epoch=2,
        reflect_cases=2,
        operator_max_tokens=24,
        use_memory=False,
        dtype="float32",
        seed=0,
        run_dir=tmp_path / "run",
    )
    print("program run:", result.scores, repr(result.prompt.text))
    assert result["final"]["train"] >= result["initial"]["train"]
    assert result["final"]["dev"] >= result["initial"]["dev"]
    text = result.prompt.text
    exported = ChatProgram(chain).chat_prompt(text)  # the deployable ChatPromptTemplate
    assert exported.messages[0].format().content == text
    tests = flowpo.resolve_task(str(tmp_path / "run" / "examples.jsonl")).split("test")
    program_task = replace(
        flowpo.resolve_task(str(tmp_path / "run" / "examples.jsonl")), template=PROGRAM_TEMPLATE
    )
    evaluator = flowpo.Evaluator(
        program_task,
        ProgramTarget(ChatProgram(chain)),
        mode="generate",
        metric=as_metric(plural, tests[0]),
    )
    scored = evaluator.evaluate(result.prompt, tests)
    start = evaluator.evaluate(flowpo.Prompt.from_text(START), tests)
    print("test, same evaluator: start", start.score, "optimized", scored.score)
    assert scored.score == pytest.approx(result["final"]["test"])
    assert start.score == pytest.approx(result["initial"]["test"])
    assert scored.score > start.score  # the must-show: test score above its start
    outs = asyncio.run(
        (exported | llm | StrOutputParser()).abatch(
            [{"question": program_task.format_input(e)} for e in tests]
        )
    )
    assert len(tests) == 20
    assert [o.strip() for o in outs] == [r.prediction for r in scored.examples]
