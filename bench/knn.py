"""k-nearest-neighbour demonstrations: a strong no-search baseline for small targets.

For each test input, the ``k`` labelled examples (train + dev: every labelled example the
other methods see) most similar to it by all-MiniLM-L6-v2 cosine similarity (flowpo's
embedder, a faiss inner-product index over unit vectors) become the demonstrations after
the manual instruction, rendered in the task's frame like the few-shot baseline's, the
most similar last, next to the input (KATE, Liu et al. 2022, "What Makes Good In-Context
Examples for GPT-3?", §2: reversed order). No search, no budget: one prompt per test input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

K = 4
"""Demonstrations per input: as many as the few-shot baseline's random ones."""

Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts -> ``[N, dim]`` float32 unit rows (``flowpo.memory.embeddings`` embedders' ``embed``)."""


class KnnDemos:
    """Retrieve the labelled examples nearest to an input.

    Args:
        pool: The labelled examples demonstrations are drawn from.
        texts: Each pool example's input text (what is embedded), same order.
        embed: The embedder (unit rows, so an inner product is a cosine).
    """

    def __init__(self, pool: Sequence[Any], texts: Sequence[str], embed: Embed) -> None:
        """Embed the pool once and index it."""
        import faiss

        if len(pool) != len(texts) or not pool:
            raise ValueError("the pool and its texts must be non-empty and of equal length")
        self.pool = list(pool)
        self.embed = embed
        vectors = np.ascontiguousarray(embed(list(texts)), dtype=np.float32)  # [N, dim]
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def nearest(self, texts: Sequence[str], k: int = K) -> list[list[Any]]:
        """Return, per text, its ``k`` nearest pool examples, the most similar LAST."""
        queries = np.ascontiguousarray(self.embed(list(texts)), dtype=np.float32)  # [Q, dim]
        k = min(k, len(self.pool))
        _, idx = self.index.search(queries, k)  # [Q, k], most similar first
        return [[self.pool[int(i)] for i in reversed(row) if i >= 0] for row in idx]


def knn_prompts(
    task: Any, base: Any, inputs: Sequence[Any], knn: KnnDemos, k: int = K
) -> list[Any]:
    """Return one prompt per input: ``base``'s sections plus its nearest demonstrations."""
    from flowpo.operators.base import render_demo
    from flowpo.prompt import Prompt, Section

    demos = knn.nearest([task.format_input(ex) for ex in inputs], k)
    out = []
    for chosen in demos:
        text = "\n".join(" ".join(render_demo(task, ex).split()) for ex in chosen)
        out.append(Prompt((*base.sections, Section("examples", text))))
    return out


async def score_prompts(
    task: Any, model: Any, prompts: Sequence[Any], inputs: Sequence[Any], max_new_tokens: int
) -> list[float]:
    """Score one prompt per input in batched target calls (what the evaluator computes).

    The prompts differ only after the instruction, so the inputs' longest common prefix
    (cut at a line break, as the evaluator cuts before ``{text}``) is the shared prefix.
    """
    import os

    from flowpo.metrics import score_example

    fulls = [p.render(task.format_input(ex), task.template)
             for p, ex in zip(prompts, inputs, strict=True)]
    common = os.path.commonprefix(fulls)
    prefix = common[: max(common.rfind("\n"), 0)].rstrip()
    scores: list[float] = []
    for start in range(0, len(fulls), 32):
        chunk = [f[len(prefix):] for f in fulls[start : start + 32]]
        exs = inputs[start : start + 32]
        if task.kind == "classification":
            words = [task.verbalizers[lab] for lab in task.labels]
            rows = await model.score_labels(prefix, chunk, words)  # [N, labels]
            scores += [float(task.labels[max(range(len(r)), key=r.__getitem__)] == ex.target)
                       for r, ex in zip(rows, exs, strict=True)]
        else:
            texts = await model.generate(prefix, chunk, max_new_tokens=max_new_tokens)
            firsts = [next((ln.strip() for ln in t.splitlines() if ln.strip()), "") for t in texts]
            scores += [float(score_example(task.metric, p, ex))
                       for p, ex in zip(firsts, exs, strict=True)]
    return scores
