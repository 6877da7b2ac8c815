"""Human approval of new best prompts: runner, CLI and graph, with a scripted target model."""

import pytest
from click.testing import CliRunner
from graph_fakes import TINY, fake_models, write_examples  # noqa: F401
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from flowpo.cli import cli
from flowpo.errors import ConfigError
from flowpo.prompt import Prompt
from flowpo.run.approval import parse_decision, prompt_diff
from flowpo.run.runner import optimize, resume


def _run(tmp_path, decisions, **kw):
    seen = []

    def review(request):
        seen.append(request)
        return decisions.pop(0)

    result = optimize(
        task=str(write_examples(tmp_path / "data.jsonl")),
        run_dir=tmp_path / "run",
        approve=True,
        on_review=review,
        **{**TINY, **kw},
    )
    return result, seen


@pytest.mark.usefixtures("fake_models")
def test_approve_keeps_the_new_best(tmp_path):
    result, seen = _run(tmp_path, ["approve"])
    assert len(seen) == 1  # the starting prompt needs no approval; the reminder does
    req = seen[0]
    assert req["approved_id"] == "c0" and req["approved_train_score"] == 0.5
    assert req["train_score"] == 1.0 and "+Remember:" in req["diff"]
    assert result["chosen_id"] == req["candidate_id"] and result["final"]["train"] == 1.0


@pytest.mark.usefixtures("fake_models")
def test_reject_falls_back_to_the_approved_prompt(tmp_path):
    result, seen = _run(tmp_path, ["reject"])
    assert len(seen) == 1
    # Without approval the better prompt would win; rejected, it is never chosen.
    assert result["chosen_id"] == "c0" and result["final"]["train"] == 0.5


@pytest.mark.usefixtures("fake_models")
def test_edit_scores_the_edited_prompt_and_may_choose_it(tmp_path):
    edit = {"action": "edit", "prompt": "Decide the sentiment.\n\nRemember: good or bad."}
    result, seen = _run(tmp_path, [edit])
    assert len(seen) == 1  # the edit counts as approved: no second question
    assert result["chosen_id"].startswith("u")
    best = Prompt.from_file(tmp_path / "run" / "best_prompt.md")
    assert "Decide the sentiment." in best.text
    assert best.verbalizers  # the search's label words were kept under the edit


@pytest.mark.usefixtures("fake_models")
def test_a_malformed_decision_is_asked_again_with_the_error(tmp_path):
    result, seen = _run(tmp_path, ["maybe", {"action": "edit"}, "approve"])
    assert len(seen) == 3
    assert "unknown review action" in seen[1]["error"]
    assert "resume.prompt" in seen[2]["error"]
    assert result["final"]["train"] == 1.0


@pytest.mark.usefixtures("fake_models")
def test_without_a_reviewer_the_run_pauses_and_resume_answers(tmp_path):
    run = tmp_path / "run"
    paused = optimize(
        task=str(write_examples(tmp_path / "data.jsonl")), run_dir=run, approve=True, **TINY
    )
    assert paused["paused"] and paused["review"]["candidate_id"].startswith("e1")
    again = resume(run)  # no decision yet: still paused, same question
    assert again["paused"] and again["review"]["candidate_id"] == paused["review"]["candidate_id"]
    done = resume(run, decision="reject")
    assert done["chosen_id"] == "c0" and "paused" not in done


@pytest.mark.usefixtures("fake_models")
def test_cli_prompts_at_the_terminal(tmp_path):
    data = write_examples(tmp_path / "data.jsonl")
    args = ["optimize", "--task", str(data), "--run-dir", str(tmp_path / "run"), "--quiet"]
    args += ["--approve", "true"]
    for key, value in TINY.items():
        args += [f"--{key.replace('_', '-')}", str(value).lower()]
    out = CliRunner().invoke(cli, args, input="e\nRemember: answer good or bad.\n")
    assert out.exit_code == 0, out.output
    assert "New best prompt at epoch 1" in out.output and "+Remember:" in out.output
    assert "[a]pprove, [e]dit or [r]eject" in out.output
    best = (tmp_path / "run" / "best_prompt.md").read_text()
    assert "Remember: answer good or bad." in best


@pytest.mark.usefixtures("fake_models")
async def test_graph_pauses_and_resumes_with_command(tmp_path):
    from flowpo.graphs.service import create_graph

    graph = create_graph(data_dir=tmp_path, runs_dir=tmp_path, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}}
    write_examples(tmp_path / "data.jsonl")
    await graph.ainvoke({"task": "data.jsonl", "config": {**TINY, "approve": True}}, thread)
    state = await graph.aget_state(thread)
    (pause,) = state.interrupts
    assert pause.value["kind"] == "new_best_prompt" and pause.value["train_score"] == 1.0
    out = await graph.ainvoke(Command(resume="approve"), thread)
    assert out["result"]["final"]["train"] == 1.0 and "Remember:" in out["best_prompt"]


def test_decisions_parse_and_diff():
    assert parse_decision("APPROVE").action == "approve"
    edit = parse_decision({"action": "edit", "prompt": "# task\n\nBe kind."})
    assert edit.prompt.text == "Be kind."
    with pytest.raises(ConfigError) as e:
        parse_decision(3)
    assert e.value.field == "resume"
    old = {"id": "a", "prompt": Prompt.from_text("Be brief.").to_dict()}
    new = {"id": "b", "prompt": Prompt.from_text("Be very brief.").to_dict()}
    diff = prompt_diff(old, new)
    assert "-Be brief." in diff and "+Be very brief." in diff and "new best (b)" in diff
