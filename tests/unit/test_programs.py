"""Chat programs (ChatPromptTemplate | chat model | parser) optimized through the API and CLI."""

import json
import subprocess
import sys

import pytest
from fakes import Recorder
from graph_fakes import TINY, fake_models  # noqa: F401
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import flowpo
from flowpo.cli import main
from flowpo.programs import ChatProgram

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
    with pytest.raises(ValueError, match="exactly one"):
        ChatProgram(two)
    with pytest.raises(ValueError, match="literal system message"):
        ChatProgram(ChatPromptTemplate([("system", "{a}"), ("human", "{b}")]))
