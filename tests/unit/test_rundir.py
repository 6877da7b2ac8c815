import asyncio
import json

import pytest

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError
from flowpo.operators.registry import get_operator, operator_names
from flowpo.prompt import Prompt, Section
from flowpo.run.rundir import CHECKPOINTS, write_best
from flowpo.run.runner import aoptimize, aresume
from flowpo.run.settings import load_config, prepare


def test_prepare_saves_config_and_refuses_another_task(tmp_path):
    cfg = prepare(OptimizeConfig(task="sst2", run_dir=tmp_path / "r", max_epochs=4))
    assert load_config(tmp_path / "r").max_epochs == 4
    assert cfg.run_dir == tmp_path / "r"
    with pytest.raises(ConfigError, match="belongs to task 'sst2'"):
        prepare(OptimizeConfig(task="rte", run_dir=tmp_path / "r"))


def test_not_a_run_dir(tmp_path):
    with pytest.raises(ConfigError, match="config.yaml"):
        load_config(tmp_path)


def test_zero_budget_and_unknown_operator_are_clear_errors():
    with pytest.raises(ConfigError, match="budget_examples"):
        make_config(OptimizeConfig, budget_examples=0)
    with pytest.raises(ConfigError) as e:
        get_operator("telepathy")
    assert "few_shot" in str(e.value) and e.value.field == "operators"
    assert len(operator_names()) == 15


def test_optimize_refuses_a_run_dir_that_already_holds_a_run(tmp_path):
    run = tmp_path / "r"
    prepare(OptimizeConfig(run_dir=run))
    (run / CHECKPOINTS).write_bytes(b"")
    with pytest.raises(ConfigError, match="flowpo resume"):
        asyncio.run(aoptimize(OptimizeConfig(run_dir=run)))


def test_resume_with_a_damaged_checkpoint_says_so(tmp_path):
    run = tmp_path / "r"
    prepare(OptimizeConfig(run_dir=run))
    (run / CHECKPOINTS).write_bytes(b"this is not sqlite" * 200)
    with pytest.raises(DataError, match="damaged"):
        asyncio.run(aresume(run))
    with pytest.raises(DataError, match="no checkpoint"):
        prepare(OptimizeConfig(run_dir=tmp_path / "fresh"))
        asyncio.run(aresume(tmp_path / "fresh"))


def test_best_prompt_files_carry_template_and_label_words(tmp_path):
    prompt = Prompt((Section("task", "Judge the review."), Section("format", "One word.", True)))
    write_best(
        tmp_path,
        prompt,
        {"score": 1.0},
        "{prompt} Input : {text} Output:",
        {"negative": "no", "positive": "yes"},
    )
    back = Prompt.from_file(tmp_path / "best_prompt.md")
    assert back.template == "{prompt} Input : {text} Output:"
    assert back.verbalizers == {"negative": "no", "positive": "yes"}
    assert back.sections == prompt.sections


def test_rows_written_again_by_a_redone_node_replace_the_lost_attempts(tmp_path):
    from flowpo.run.rundir import upsert_jsonl

    path = tmp_path / "candidates.jsonl"
    upsert_jsonl(path, [{"id": "c0", "n": 1}, {"id": "c0w", "n": 2}])
    upsert_jsonl(path, [{"id": "e1-0", "n": 3}])
    upsert_jsonl(path, [{"id": "e1-0", "n": 4}, {"id": "e1-1", "n": 5}])  # epoch 1 redone
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"id": "c0", "n": 1}, {"id": "c0w", "n": 2}, {"id": "e1-0", "n": 4},
                    {"id": "e1-1", "n": 5}]
