"""Chat programs (ChatPromptTemplate | chat model | parser) optimized through the API and CLI."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from fakes import Recorder
from graph_fakes import TINY, fake_models  # noqa: F401
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import flowpo
from flowpo.cli import main
from flowpo.programs import PROGRAM_TEMPLATE, ChatProgram

WORDS = ["cat", "dog", "bird", "fish", "frog", "mouse"]
EXAMPLES = [
    {"input": w, "target": w.upper(), "split": s}
    for w, s in zip(WORDS, ["train", "train", "train", "train", "dev", "dev"], strict=True)
]
PROGRAM_MODULE = """
from fakes import Recorder
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

def answer(messages):
    system, word = messages[0].content, messages[-1].content
    return word.upper() if "Remember:" in system else "no idea"

chain = ChatPromptTemplate([("system", "Repeat the word."), ("human", "{word}")]) | Recorder(
    script=answer
) | StrOutputParser()
"""


def answer(messages):
    """Right (upper case) only when the system message holds a 'Remember:' line."""
    system, word = messages[0].content, messages[-1].content
    return word.upper() if "Remember:" in system else word


def chain():
    prompt = ChatPromptTemplate([("system", "Repeat the {{word}} in capitals."), ("human", "{q}")])
    return prompt | Recorder(script=answer) | StrOutputParser()


def exact(example, output):
    return float(output == example.target)


@pytest.mark.usefixtures("fake_models")
def test_a_chat_program_is_optimized_and_its_chain_reproduces_the_outputs(tmp_path):
    program = chain()
    run = tmp_path / "run"
    result = flowpo.optimize(program=program, examples=EXAMPLES, metric=exact, run_dir=run, **TINY)
    assert result["initial"]["train"] == 0.0 and result["final"]["train"] == 1.0
    text = result.prompt.text
    assert text.startswith("Repeat the {word} in capitals.") and "Remember:" in text
    saved = (run / "config.yaml").read_text()
    assert "program: python:RunnableSequence" in saved and "edit_format: false" in saved
    optimized = ChatProgram(program).with_system(text)
    assert optimized.batch([{"q": w} for w in WORDS]) == [w.upper() for w in WORDS]
    assert optimized.first.messages[0].format().content == text
    shell = subprocess.run(
        [sys.executable, "-m", "flowpo", "resume", str(run)], capture_output=True, text=True
    )
    assert shell.returncode == 2 and "program" in shell.stderr and "flowpo.resume(" in shell.stderr
    assert flowpo.resume(run, program=program, metric=exact)["final"]["train"] == 1.0


@pytest.mark.usefixtures("fake_models")
def test_the_cli_takes_a_program_from_the_users_module(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myprog.py").write_text(PROGRAM_MODULE)
    data = tmp_path / "words.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES))
    flags = [x for k, v in TINY.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    main(
        [
            "optimize",
            "--task",
            str(data),
            "--program",
            "myprog:chain",
            "--metric",
            "exact_match",
            *flags,
            "--run-dir",
            str(tmp_path / "run"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert "train  initial 0.0000  ->  final 1.0000" in out


def test_a_program_is_checked_early():
    with pytest.raises(TypeError, match="ChatPromptTemplate"):
        flowpo.optimize(program=StrOutputParser(), examples=EXAMPLES)
    two = ChatPromptTemplate([("system", "x"), ("human", "{a} {b}")])
    with pytest.raises(ValueError, match=r"names \['c'\].*variables are \['a', 'b'\]"):
        ChatProgram(two, fields={"c": "x"})
    with pytest.raises(ValueError, match="no input variable"):
        ChatProgram(ChatPromptTemplate([("system", "x"), ("human", "hello")]))
    with pytest.raises(ValueError, match="literal system message"):
        ChatProgram(ChatPromptTemplate([("system", "{a}"), ("human", "{b}")]))


CONTEXTS = ["cat", "dog", "bird", "fish", "frog", "mouse"]
SPLITS = ["train", "train", "train", "train", "dev", "dev"]
QA = [
    {"question": "Which animal?", "context": w, "answer": w.upper(), "source": "zoo", "split": s}
    for w, s in zip(CONTEXTS, SPLITS, strict=True)
]


def read_context(messages):
    """Answer the context in capitals only when the system message holds a 'Remember:' line."""
    system, human = messages[0].content, messages[-1].content
    assert human.startswith("Q: Which animal?\nContext: ")  # both variables filled
    word = human.rsplit(": ", 1)[1]
    return word.upper() if "Remember:" in system else word


def qa_chain(model):
    human = "Q: {question}\nContext: {context}"
    return ChatPromptTemplate([("system", "Name the animal."), ("human", human)]) | model


@pytest.mark.usefixtures("fake_models")
def test_several_template_variables_read_several_example_fields(tmp_path):
    model = Recorder(script=read_context)
    program = qa_chain(model) | StrOutputParser()
    run = tmp_path / "run"
    result = flowpo.optimize(
        program=program, examples=QA, target_field="answer", metric=exact, run_dir=run, **TINY
    )
    assert result["initial"]["train"] == 0.0 and result["final"]["train"] == 1.0
    assert "input_field: context,question" in (run / "config.yaml").read_text()
    saved = json.loads((run / "examples.jsonl").read_text().splitlines()[0])
    assert saved["source"] == "zoo"  # extra fields are kept in the saved (JSON) data
    humans = {m.content for conv in model.seen for m in conv if m.type == "human"}
    assert "Q: Which animal?\nContext: frog" in humans
    deployed = ChatProgram(program).with_system(result.prompt.text)
    assert deployed.invoke({"question": "Which animal?", "context": "owl"}) == "OWL"


@pytest.mark.usefixtures("fake_models")
def test_fields_map_template_variables_to_other_field_names(tmp_path):
    rows = [{**{k: v for k, v in r.items() if k != "context"}, "passage": r["context"]} for r in QA]
    program = ChatProgram(
        qa_chain(Recorder(script=read_context)) | StrOutputParser(), fields={"context": "passage"}
    )
    result = flowpo.optimize(
        program=program,
        examples=rows,
        target_field="answer",
        metric=exact,
        run_dir=tmp_path / "run",
        **TINY,
    )
    assert result["final"]["train"] == 1.0
    assert program.example_fields() == ["passage", "question"]
    one = ChatProgram(
        ChatPromptTemplate([("system", "s"), ("human", "{question}")]), fields={"question": "q"}
    )
    assert one.example_fields() == ["q"]  # the run's input_field; its text fills {question}
    assert one.inputs(flowpo.Example("1", "hi", "x"), "hi") == {"question": "hi"}


def test_a_variable_without_a_field_is_named_with_the_fix(tmp_path):
    chain = qa_chain(Recorder(script=read_context)) | StrOutputParser()
    rows = [{k: v for k, v in r.items() if k != "context"} for r in QA]
    with pytest.raises(flowpo.DataError, match="no 'context'") as err:
        flowpo.optimize(
            program=chain, examples=rows, target_field="answer", run_dir=tmp_path / "a", **TINY
        )
    assert err.value.field == "examples[0].context"
    with pytest.raises(flowpo.ConfigError, match="lacks \\['context'\\]") as err:
        flowpo.optimize(
            program=chain,
            examples=QA,
            input_field="question",
            target_field="answer",
            run_dir=tmp_path / "b",
            **TINY,
        )
    assert err.value.field == "input_field" and "input_field=context,question" in err.value.fix
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = replace(
        flowpo.task_from_file(data, input_field="question", target_field="answer"),
        template=PROGRAM_TEMPLATE,
    )
    evaluator = flowpo.Evaluator(task, ChatProgram(chain).target(), mode="generate")
    with pytest.raises(flowpo.DataError, match="variable {context}") as err:
        evaluator.evaluate(flowpo.Prompt.from_text("Name the animal."), task.split("train"))
    assert err.value.field == "context" and "fields=" in err.value.fix
