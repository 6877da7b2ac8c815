"""A scripted target model and a fixture that builds runs with it (unit tests only)."""

import json

import pytest
from fakes import Recorder

from flowpo.graphs import resources as res_mod
from flowpo.models.base import TargetLM

TINY = {
    "max_epochs": 1,
    "actions_per_epoch": 1,
    "operators": "repeat_instructions",
    "edit_format": False,
    "reflect_cases": 0,
    "evaluate_test": False,
    "use_memory": False,
    "soft_weight": 0.0,
}

EXAMPLES = [
    {"input": f"{word} film number {i}", "target": label, "split": split}
    for i, (word, label, split) in enumerate(
        [
            ("good", "positive", "train"),
            ("bad", "negative", "train"),
            ("good", "positive", "train"),
            ("bad", "negative", "train"),
            ("good", "positive", "dev"),
            ("bad", "negative", "dev"),
        ]
    )
]


class ReminderLM(TargetLM):
    """Right (by the words good/bad) only when the prompt holds a 'Remember:' line;
    otherwise always 'positive' (half right). So the repeat_instructions operator makes a
    new best prompt on its first try, and the test knows both scores in advance."""

    model_id = "fake:reminder"

    def check_words(self, words):
        pass

    async def score_labels(self, prefix, texts, words):
        self.stats.calls += 1
        self.stats.examples += len(texts)
        rows = []
        for t in texts:
            said = "negative" if "bad" in t and "Remember:" in prefix else "positive"
            rows.append([-0.1 if w == said else -3.0 for w in words])
        return rows

    async def generate(self, prefix, texts, *, max_new_tokens=32):
        return ["positive" for _ in texts]


@pytest.fixture
def fake_models(monkeypatch):
    """Every run built in the test uses ReminderLM and a scripted operator LM."""
    res_mod._build.cache_clear()
    monkeypatch.setattr(res_mod, "load_target", lambda *a, **k: ReminderLM())
    monkeypatch.setattr(res_mod, "_operator_llm", lambda config: Recorder(script=["ok"]))
    yield
    res_mod._build.cache_clear()


def write_examples(path):
    path.write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES))
    return path
