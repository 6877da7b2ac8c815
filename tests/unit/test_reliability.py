"""Unit tests of the reliability pieces: backoff, Ctrl-C drain, input limits, crash guard."""

from __future__ import annotations

import json
import os
import random
import signal
from types import SimpleNamespace

import pytest
from langgraph.runtime import RunControl

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError, ModelError
from flowpo.models.retry import backoff_delay
from flowpo.operators.base import Operator, OperatorContext, garbage_reason
from flowpo.prompt import Prompt
from flowpo.run.runner import drain_on_sigint
from flowpo.search.editing import apply_operator
from flowpo.tasks.files import TruncationWarning, task_from_file
from flowpo.tasks.task import Task


def test_backoff_is_exponential_jittered_capped_and_honours_retry_after():
    rng = random.Random(0)
    for attempt in range(8):
        full = min(4.0, 0.5 * 2**attempt)
        delays = [backoff_delay(attempt, 0.5, 4.0, rng) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 4  # jittered, not one fixed value
    assert backoff_delay(0, 0.5, 4.0, rng, retry_after=3.0) == 3.0
    assert backoff_delay(0, 0.5, 4.0, rng, retry_after=60.0) == 4.0  # still capped


def test_first_ctrl_c_requests_a_drain_second_stops_at_once():
    control = RunControl()
    before = signal.getsignal(signal.SIGINT)
    with drain_on_sigint(control):
        os.kill(os.getpid(), signal.SIGINT)
        assert control.drain_requested and control.drain_reason == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the old handler is back


def test_long_inputs_are_cut_with_one_warning_naming_the_lines(tmp_path):
    rows = [
        {"input": "x" * (200 if i in (1, 4) else 5), "target": "ab"[i % 2], "split": "train"}
        for i in range(6)
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.warns(TruncationWarning, match=r"2 input\(s\) longer than 150 .*line\(s\) 2, 5"):
        task = task_from_file(path, max_input_chars=150)
    assert [len(e.input) for e in task.split("train")] == [5, 150, 5, 5, 150, 5]
    with pytest.raises(DataError, match="max_input_chars"):
        task_from_file(path, max_input_chars=0)


def test_prompt_file_errors_name_the_line_and_crlf_files_parse(tmp_path):
    with pytest.raises(DataError) as err:
        Prompt.from_markdown("---\nx: 1\n---\n# a\n\ntext\n\n# a\n\nmore\n", where="p.md")
    assert err.value.where == "p.md:8" and err.value.field == "a"
    crlf = Prompt.from_markdown("---\r\ncalibrate: true\r\n---\r\n# task\r\n\r\nDo it.\r\n")
    assert crlf.calibrate and crlf.section("task").text == "Do it."


def test_validator_errors_are_not_wrapped_twice():
    with pytest.raises(ConfigError) as err:
        make_config(OptimizeConfig, model="hf:gpt2")
    assert str(err.value).count("Fix:") == 1 and err.value.field == "model"


def test_garbage_operator_output_is_recognised():
    assert garbage_reason("ok \x00 text")
    assert garbage_reason("caf\ufffd")
    assert garbage_reason("}{][ ### ))) ((( !!! ??? ***", prose=True)
    assert garbage_reason("}{][ ### ))) ((( !!! ??? ***") is None  # data may be symbols
    assert garbage_reason("Classify the review as positive or negative.", prose=True) is None
    assert garbage_reason("It has a bug:\n```\nSay yes.\n```\nFixed.", prose=True)


class Boom(Operator):
    name = "boom"
    description = "raises"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def apply(self, prompt, section, ctx):
        raise self.error


async def test_an_operator_bug_is_a_failed_action_but_a_model_error_stops_the_run():
    task = Task("t", "classification", "accuracy", ("a", "b"), {"a": "a", "b": "b"})
    ctx = OperatorContext(task=task)
    step = {"operator": "boom", "section": "task"}
    res = SimpleNamespace(operators={"boom": Boom(KeyError("oops"))})
    result = await apply_operator(res.operators, step, Prompt.from_text("x"), ctx)
    assert result.failed and "KeyError" in result.rejected[0]
    res = SimpleNamespace(operators={"boom": Boom(ModelError("down"))})
    with pytest.raises(ModelError):
        await apply_operator(res.operators, step, Prompt.from_text("x"), ctx)
