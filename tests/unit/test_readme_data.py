"""The README's "Your data, your metric" Python blocks run as written (with fake models)."""

import re
from pathlib import Path

import pytest
from fakes import Recorder
from graph_fakes import ReminderLM, fake_models  # noqa: F401

import flowpo.classifier
import flowpo.models.chat

README = Path(__file__).resolve().parents[2] / "README.md"


def section_blocks(title):
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


@pytest.mark.usefixtures("fake_models")
def test_your_data_your_metric_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWPO_USE_MEMORY", "false")
    monkeypatch.setattr(flowpo.classifier, "load_target", lambda spec: ReminderLM())
    plural = Recorder(script=lambda messages: messages[-1].content + "s")
    monkeypatch.setattr(flowpo.models.chat, "load_chat_model", lambda spec: plural)
    blocks = section_blocks("Your data, your metric")
    assert len(blocks) == 3
    scope: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), scope)
    assert scope["result"].run_dir.is_dir()
    assert scope["template"].format(text="x") == scope["prompt"].render("x", "")
    assert scope["out"]["final"]["train"] == 1.0
