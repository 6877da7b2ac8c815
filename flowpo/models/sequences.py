"""Label words of several tokens, scored as token sequences by a local causal LM.

A label word ``w`` that the tokenizer splits into tokens ``w_1 .. w_k`` (``" very
positive"`` -> ``[" very", " positive"]``) is scored by its sequence log-probability

    log p(w | x) = log p(w_1 | x) + sum_{m=2..k} log p(w_m | x, w_1 .. w_{m-1})

**Length handling: the plain sum**, with no length normalisation. The sum is the
log-probability of the whole label string, so the labels' scores stay comparable as a
distribution over the label strings (softmax, soft score and calibration keep their
meaning) and a one-token label scores exactly as before. A per-token mean would reward long
labels whose later tokens are nearly certain (``" very" -> " positive"``) and is no
probability. The known cost of the sum: a label that is a token prefix of another
(``very`` vs ``very positive``) can never score below it, so such label sets are best
avoided (rename one label word).

The first token's log-prob comes from the next-token row the evaluator already computes
(prefix key/value cache, memo); only the continuation ``x + w_1 .. w_{k-1}`` runs again, on
top of the same shared prompt cache.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from flowpo.errors import ModelError

Hidden = Callable[[list[list[int]]], torch.Tensor]
"""Runs token sequences after the shared prompt; returns ``[B, T, H]`` hidden states."""


def label_token_ids(
    encode: Callable[[str], list[int]], words: list[str], model_id: str
) -> list[list[int]]:
    """Return each label word's token ids (with a leading space, as it follows the input).

    Raises:
        ModelError: A word with no tokens, or two labels with the same token sequence.
    """
    ids = [encode(w if w.startswith(" ") else " " + w) for w in words]
    for word, seq in zip(words, ids, strict=True):
        if not word.strip() or not seq:
            raise ModelError(
                f"the label word {word!r} is empty for {model_id}",
                field="verbalizers",
                fix="give every label a non-empty word",
            )
    if len({tuple(s) for s in ids}) != len(ids):
        raise ModelError(
            f"two labels share one token sequence: {words}",
            field="verbalizers",
            fix="give every label a different word",
        )
    return ids


def continuation_logprobs(
    hidden: Hidden,
    head: Callable[[torch.Tensor], torch.Tensor],
    text_ids: list[list[int]],
    seqs: list[list[int]],
    batch_size: int,
) -> torch.Tensor:
    """Return ``[N, W]``: sum of log p(w_m | x, w_<m) over each word's tokens after the first.

    One-token words get 0 (their whole score is the next-token row). Inputs are the
    example's tokens plus the word's tokens but its last, batched by length.

    Args:
        hidden: Runs suffix token sequences on the shared prompt cache (see :data:`Hidden`).
        head: The output layer (hidden states to logits).
        text_ids: Each example's tokens after the shared prompt.
        seqs: Each label word's tokens.
        batch_size: Sequences per forward pass.
    """
    out = torch.zeros(len(text_ids), len(seqs))
    jobs = [(i, j) for i in range(len(text_ids)) for j, s in enumerate(seqs) if len(s) > 1]
    jobs.sort(key=lambda job: len(text_ids[job[0]]) + len(seqs[job[1]]))
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        states = hidden([text_ids[i] + seqs[j][:-1] for i, j in chunk])  # [B, T, H]
        for b, (i, j) in enumerate(chunk):
            first = len(text_ids[i])  # the state there predicts the word's second token
            rows = torch.log_softmax(head(states[b, first : first + len(seqs[j]) - 1]).float(), -1)
            rest = torch.tensor(seqs[j][1:], device=rows.device)
            picked = rows[torch.arange(len(rest), device=rows.device), rest]
            out[i, j] = picked.sum().cpu()
    return out
