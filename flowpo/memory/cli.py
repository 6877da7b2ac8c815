"""``flowpo memory ...``: inspect, search, export, import, forget and re-embed the memory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from flowpo.memory.embeddings import DEFAULT_EMBEDDER, load_embedder
from flowpo.memory.records import KINDS
from flowpo.memory.store import MemoryStore, default_memory_dir

_TEXT_SHOWN = 240
"""Characters of a record's text shown by ``search``."""


def _dir_option(fn: Callable[..., Any]) -> Any:
    return click.option(
        "--memory-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The memory directory [default: $FLOWPO_MEMORY or ~/.cache/flowpo/memory].",
    )(fn)


def _embedder_option(fn: Callable[..., Any]) -> Any:
    return click.option(
        "--embedder",
        default=None,
        help=(
            "Embedding model spec: local:all-minilm-l6-v2, openai:<model> or "
            "openai-compatible:<url>#<model> [default: the model that built the memory]."
        ),
    )(fn)


def _open(memory_dir: Path | None, embedder: str | None, *, create: bool = False) -> MemoryStore:
    """Open the memory with ``embedder``, or with the model that built it when unset."""
    path = memory_dir or default_memory_dir()
    if embedder is None and (path / "memory.sqlite").exists():
        with MemoryStore(path, None, create=False) as bare:
            embedder = bare.embedder_id
    return MemoryStore(path, load_embedder(embedder or DEFAULT_EMBEDDER), create=create)


@click.group("memory")
def memory() -> None:
    """Inspect and manage the experience memory shared by runs."""


@memory.command("stats")
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_cmd(memory_dir: Path | None, as_json: bool) -> None:
    """Show how many records the memory holds, by kind, task and run."""
    with MemoryStore(memory_dir or default_memory_dir(), None, create=False) as store:
        info = store.stats()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"memory   {info['path']}")
    click.echo(f"records  {info['records']} (indexed {info['indexed']})")
    click.echo(f"embedder {info['embedder']} (dimension {info['dim']})")
    for title in ("by_kind", "by_task", "by_run"):
        click.echo(f"{title.replace('_', ' ')}:")
        for name, n in info[title].items():
            click.echo(f"  {name:40} {n:>7}")


@memory.command("search")
@click.argument("text")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only this kind.")
@click.option("--task", default=None, help="Only this task.")
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Hits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_dir_option
@_embedder_option
def search_cmd(
    text: str,
    kind: str | None,
    task: str | None,
    k: int,
    as_json: bool,
    memory_dir: Path | None,
    embedder: str | None,
) -> None:
    """Show the records most similar to TEXT."""
    with _open(memory_dir, embedder) as store:
        hits = store.search(text, k, kind=kind, task=task)
    if not hits:
        click.echo("no matching records", err=True)
    for record, sim in hits:
        if as_json:
            click.echo(json.dumps({**record.to_dict(), "similarity": sim}, ensure_ascii=False))
            continue
        score = "-" if record.score is None else f"{record.score:.4f}"
        click.echo(
            f"{sim:.3f}  #{record.id} {record.kind} task={record.task} run={record.run} "
            f"score={score}"
        )
        shown = " ".join(record.text.split())
        cut = shown[:_TEXT_SHOWN] + ("..." if len(shown) > _TEXT_SHOWN else "")
        click.echo(f"       {cut}")


@memory.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_dir_option
def export_cmd(file: Path, memory_dir: Path | None) -> None:
    """Write every record (without embeddings) to FILE as JSON lines."""
    with MemoryStore(memory_dir or default_memory_dir(), None, create=False) as store:
        n = store.export(file)
    click.echo(f"exported {n} records to {file}")


@memory.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_dir_option
@_embedder_option
def import_cmd(file: Path, memory_dir: Path | None, embedder: str | None) -> None:
    """Add the records of an export FILE, embedding their texts.

    Every line is checked first: one bad line and nothing is imported. Records already
    in the memory are skipped.
    """
    with _open(memory_dir, embedder, create=True) as store:
        n = store.import_(file)
        total = len(store)
    click.echo(f"imported {n} records from {file} ({total} in memory)")


@memory.command("forget")
@click.option("--run", "run", required=True, help="The run whose records to delete.")
@_dir_option
def forget_cmd(run: str, memory_dir: Path | None) -> None:
    """Delete every record of one run."""
    with MemoryStore(memory_dir or default_memory_dir(), None, create=False) as store:
        n = store.forget(run)
        runs = list(store.stats()["by_run"])
    click.echo(f"forgot {n} records of run {run!r}")
    if not n and runs:
        shown = ", ".join(runs[:10]) + (", ..." if len(runs) > 10 else "")
        click.echo(f"known runs: {shown}", err=True)


@memory.command("reembed")
@_dir_option
@click.option(
    "--embedder",
    default=DEFAULT_EMBEDDER,
    show_default=True,
    help="The embedding model to re-embed every record with.",
)
def reembed_cmd(memory_dir: Path | None, embedder: str) -> None:
    """Re-embed every record with another embedding model (one transaction)."""
    path = memory_dir or default_memory_dir()
    with MemoryStore(path, None, create=False) as bare:
        before = bare.embedder_id
    with MemoryStore(path, load_embedder(embedder), create=False, reembed=True) as store:
        n, after = len(store), store.embedder_id
    if before == after:
        click.echo(f"the memory already uses {after}; nothing to do")
    else:
        click.echo(f"re-embedded {n} records: {before} -> {after}")
