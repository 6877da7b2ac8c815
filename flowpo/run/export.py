"""``flowpo export``: a run's chosen prompt in another tool's format (LangSmith prompt hub).

The LangSmith prompt-hub manifest is LangChain's serialised form of a prompt template
(``langchain_core.load.dumpd``: ``{"lc": 1, "type": "constructor", "id": [...,
"PromptTemplate"], "kwargs": {...}}``), the ``manifest`` a hub commit holds;
``langsmith.Client().push_prompt(name, object=manifest)`` uploads it, and
``langchain_core.load.load(manifest)`` turns it back into the template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from flowpo.errors import DataError
from flowpo.prompt import Prompt
from flowpo.run.rundir import BEST_JSON

LANGSMITH_FILE = "prompt.langsmith.json"


def best_prompt(run_dir: Path) -> Prompt:
    """Return the run's chosen prompt (``best_prompt.json``), with frame and label words.

    Raises:
        DataError: The run has chosen no prompt yet.
    """
    path = Path(run_dir) / BEST_JSON
    if not path.is_file():
        raise DataError(
            "the run has no chosen prompt yet",
            where=str(run_dir),
            fix="let the run finish ('flowpo resume <run-dir>'), then export",
        )
    return Prompt.from_dict(json.loads(path.read_text(encoding="utf-8"))["prompt"])


def langsmith_manifest(prompt: Prompt, *, chat: bool = False) -> dict[str, Any]:
    """Return ``prompt`` in the LangSmith prompt-hub manifest form (``dumpd`` of it)."""
    from langchain_core.load import dumpd

    return dict(dumpd(prompt.to_langchain(chat=chat)))


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["langsmith"]),
    default="langsmith",
    help="langsmith: the prompt-hub manifest (LangChain's serialised prompt template).",
)
@click.option("--chat", is_flag=True, help="A ChatPromptTemplate (system + human message).")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Where to write it [default: RUN_DIR/{LANGSMITH_FILE}].",
)
def export(run_dir: Path, fmt: str, chat: bool, output: Path | None) -> None:
    """Write a run's chosen prompt for another tool (LangSmith's prompt hub)."""
    manifest = langsmith_manifest(best_prompt(run_dir), chat=chat)
    out = output or Path(run_dir) / LANGSMITH_FILE
    out.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"{fmt} manifest ({manifest['id'][-1]}) -> {out}")
