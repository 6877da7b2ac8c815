"""Demonstrations retrieved per input: its nearest labelled examples (kNN prompting).

A prompt with ``retrieve = k`` carries no fixed demonstrations: for every input, the ``k``
labelled examples most similar to it (all-MiniLM-L6-v2 cosine similarity, a faiss
inner-product index over unit vectors) are rendered in the prompt's frame with its label
words and put after its text, the most similar last, next to the input (KATE, Liu et al.
2022, "What Makes Good In-Context Examples for GPT-3?", §2: reversed order). For small
targets this is often worth more than any instruction. An example never retrieves itself,
so a score on the examples the index holds is a leave-one-out score.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from flowpo.operators.base import EXAMPLES
from flowpo.prompt import Prompt
from flowpo.tasks.demos import render_demo
from flowpo.tasks.task import Task
from flowpo.types import Example

Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts -> ``[N, dim]`` float32 unit rows (the ``embed`` of :mod:`flowpo.memory.embeddings`)."""

QUERY_VECTORS = 20_000
"""Vectors of inputs outside the pool an index keeps (~30 MB at 384 dimensions)."""

LABELLED_SPLITS = ("train", "pool", "dev")
"""The splits demonstrations come from: every labelled example but the test split."""


class DemoIndex:
    """The labelled examples demonstrations are retrieved from, indexed by their input.

    Args:
        pool: The labelled examples.
        texts: Each example's formatted input (what is embedded), same order.
        embed: The embedder (unit rows, so an inner product is a cosine).
    """

    def __init__(
        self,
        pool: Sequence[Example],
        texts: Sequence[str],
        embed: Embed,
        max_queries: int = QUERY_VECTORS,
    ) -> None:
        """Embed the pool once and index it; keep at most ``max_queries`` other inputs' vectors."""
        import faiss

        if len(pool) != len(texts) or not pool:
            raise ValueError("the pool and its texts must be non-empty and of equal length")
        self.pool = list(pool)
        self.embed = embed
        vectors = np.ascontiguousarray(embed(list(texts)), dtype=np.float32)  # [N, dim]
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self._pool_vectors: dict[str, np.ndarray] = dict(zip(texts, vectors, strict=True))
        self._queries: dict[str, np.ndarray] = {}
        """Inputs outside the pool, embedded once (neighbours depend on the input alone)."""
        self.max_queries = max_queries
        ids = "\n".join(f"{e.id}\t{e.target}" for e in self.pool)
        self.key = hashlib.sha256(ids.encode()).hexdigest()[:12]
        """Names the pool: results scored with another pool are not reused."""

    @classmethod
    def for_task(cls, task: Task, embed: Embed | None = None) -> DemoIndex:
        """Return the index over ``task``'s labelled examples (train, pool and dev).

        Raises:
            ValueError: The task has no labelled example outside its test split.
        """
        pool = labelled_pool(task)
        if not pool:
            raise ValueError(f"task {task.name!r} has no labelled examples to retrieve")
        if embed is None:
            from flowpo.memory.embeddings import load_embedder

            embed = load_embedder().embed
        return cls(pool, [task.format_input(e) for e in pool], embed)

    def nearest(
        self, inputs: Sequence[Example], texts: Sequence[str], k: int
    ) -> list[list[Example]]:
        """Return, per input, its ``k`` nearest pool examples other than itself, nearest LAST."""
        queries = self._vectors(texts)  # [Q, dim]
        _, idx = self.index.search(queries, min(k + 1, len(self.pool)))  # nearest first
        out = []
        for ex, row in zip(inputs, idx, strict=True):
            near = [self.pool[int(i)] for i in row if i >= 0]
            near = [e for e in near if str(e.id) != str(ex.id)][:k]
            out.append(near[::-1])
        return out

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Return the unit vectors of ``texts``, embedding only those not seen before.

        The pool's vectors are kept for good; other inputs' (a test set, a deployed
        prompt's traffic) are forgotten all at once when more than ``max_queries`` are held.
        """
        known = self._pool_vectors
        new = list(dict.fromkeys(t for t in texts if t not in known and t not in self._queries))
        fresh = dict(zip(new, self.embed(new), strict=True)) if new else {}
        rows = [known.get(t, self._queries.get(t, fresh.get(t))) for t in texts]
        if len(self._queries) + len(fresh) > self.max_queries:
            self._queries.clear()
        self._queries.update(fresh)
        return np.ascontiguousarray(rows, dtype=np.float32)

    def demos(self, task: Task, prompt: Prompt, inputs: Sequence[Example]) -> list[str]:
        """Return each input's demonstrations as the prompt shows them: one per line."""
        words = replace(task, verbalizers={**task.verbalizers, **(prompt.verbalizers or {})})
        texts = [task.format_input(ex) for ex in inputs]
        return [
            "\n".join(" ".join(render_demo(words, ex, prompt.template).split()) for ex in near)
            for near in self.nearest(inputs, texts, prompt.retrieve)
        ]


def labelled_pool(task: Task) -> list[Example]:
    """Return ``task``'s labelled examples outside test, each id once, train first."""
    seen: set[str] = set()
    pool = []
    for name in LABELLED_SPLITS:
        for ex in task.splits.get(name) or []:
            if str(ex.id) not in seen:
                seen.add(str(ex.id))
                pool.append(ex)
    return pool


def retrieval_pool_size(task: Task) -> int:
    """Return how many labelled examples ``task`` could retrieve demonstrations from."""
    return len(labelled_pool(task))


def with_retrieval(prompt: Prompt, k: int) -> Prompt:
    """Return ``prompt`` retrieving its ``k`` nearest labelled examples per input.

    Its fixed examples section, if any, goes: retrieved demonstrations replace it.
    """
    kept = tuple(s for s in prompt.sections if s.name != EXAMPLES)
    return replace(prompt, sections=kept, retrieve=k)

