"""Human approval of new best prompts: the request shown, the decisions, and their effect.

When ``approve`` is on, the graph's ``review`` node pauses (LangGraph ``interrupt()``)
each time the search finds a new best prompt. The pause carries a :func:`review_request`
(scores and a unified diff against the last approved prompt); the run resumes with
``Command(resume=decision)``, where ``decision`` is one of

* ``"approve"`` (or ``{"action": "approve"}``): keep the new best;
* ``"reject"`` (or ``{"action": "reject"}``): drop it and fall back to the last approved;
* ``{"action": "edit", "prompt": "<Markdown or plain text>"}``: drop it and score the
  edited prompt instead (the edit counts as approved).

This module knows nothing of LangGraph; :mod:`flowpo.agents.reviewer` wires it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

from flowpo.errors import ConfigError
from flowpo.prompt import Prompt

ACTIONS = ("approve", "edit", "reject")


@dataclass(frozen=True)
class Decision:
    """A reviewer's answer: ``action`` and, for an edit, the new prompt."""

    action: str
    prompt: Prompt | None = None


def prompt_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """Return a unified diff of two candidates' prompts, as Markdown (sections as headers)."""
    before = Prompt.from_dict(old["prompt"]).to_markdown() if old else ""
    after = Prompt.from_dict(new["prompt"]).to_markdown()
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"approved ({old['id']})" if old else "approved",
        tofile=f"new best ({new['id']})",
        lineterm="",
    )
    return "\n".join(lines)


def review_request(
    candidate: dict[str, Any], approved: dict[str, Any] | None, epoch: int
) -> dict[str, Any]:
    """Return what a reviewer is shown: ids, train scores, the diff, the prompt, the choices."""
    return {
        "kind": "new_best_prompt",
        "epoch": epoch,
        "candidate_id": candidate["id"],
        "train_score": candidate.get("train_score"),
        "approved_id": approved["id"] if approved else None,
        "approved_train_score": approved.get("train_score") if approved else None,
        "diff": prompt_diff(approved, candidate),
        "prompt": Prompt.from_dict(candidate["prompt"]).to_markdown(),
        "choices": 'resume with "approve", "reject" or {"action": "edit", "prompt": "..."}',
    }


def parse_decision(value: Any) -> Decision:
    """Turn a resume value into a :class:`Decision`, or raise ``ConfigError`` naming the fix."""
    if isinstance(value, str):
        value = {"action": value}
    if not isinstance(value, dict):
        raise ConfigError(
            f"a review decision must be a string or an object, not {type(value).__name__}",
            field="resume",
            fix='resume with "approve", "reject" or {"action": "edit", "prompt": "..."}',
        )
    action = str(value.get("action", "")).strip().lower()
    if action not in ACTIONS:
        raise ConfigError(
            f"unknown review action {value.get('action')!r}",
            field="resume.action",
            fix=f"use one of {', '.join(ACTIONS)}",
        )
    if action != "edit":
        return Decision(action)
    text = value.get("prompt")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            "an edit needs the edited prompt",
            field="resume.prompt",
            fix='resume with {"action": "edit", "prompt": "<Markdown or plain text>"}',
        )
    return Decision("edit", Prompt.from_markdown(text, where="review edit"))


def edited_prompt(decision: Decision, proposed: dict[str, Any]) -> Prompt:
    """Return the edited prompt, keeping the proposed prompt's template and label words.

    A reviewer who edits only the instruction text should not have to restate the frame
    and verbalizers the search found; front matter in the edit overrides them.
    """
    if decision.prompt is None:
        raise ValueError("edited_prompt() needs an 'edit' decision")
    base = Prompt.from_dict(proposed["prompt"])
    new = decision.prompt
    return replace(
        new,
        template=new.template or base.template,
        verbalizers=new.verbalizers or base.verbalizers,
        calibrate=new.calibrate or base.calibrate,
        retrieve=new.retrieve or base.retrieve,
    )


def terminal_review(request: dict[str, Any]) -> Any:
    """Show a review request at the terminal and ask for approve / edit / reject.

    An edit opens ``$EDITOR`` on the prompt's Markdown when the terminal is interactive;
    otherwise (a pipe) it reads the new instruction as one line.
    """
    import sys

    import click

    if request.get("error"):
        click.echo(f"error: {request['error']}")
    old = request.get("approved_train_score")
    click.echo(
        f"\nNew best prompt at epoch {request['epoch']} ({request['candidate_id']}): "
        f"train {request['train_score']:.4f}"
        + (f" (approved so far: {old:.4f})" if old is not None else "")
    )
    click.echo(request["diff"] or "(no textual change)")
    choice = click.prompt(
        "[a]pprove, [e]dit or [r]eject",
        type=click.Choice(["a", "e", "r", *ACTIONS]),
        default="a",
    )
    action = {"a": "approve", "e": "edit", "r": "reject"}.get(choice, choice)
    if action != "edit":
        return action
    if sys.stdin.isatty():
        text = click.edit(request["prompt"], extension=".md")
    else:
        text = click.prompt("edited instruction")
    if not text or not text.strip():
        click.echo("empty edit: rejecting the new prompt instead")
        return "reject"
    return {"action": "edit", "prompt": text}
