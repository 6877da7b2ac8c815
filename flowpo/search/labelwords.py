"""Label-word search on cached next-token log-probs: no forward pass per candidate.

Given the ``[N, V]`` next-token log-probs of a prompt on the reward set, every choice of
label words can be scored by indexing alone, so the search is exhaustive when the
candidate lists are small and coordinate ascent otherwise. :func:`best_label_words` reads
those log-probs from a local target and searches the candidate words of each label.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flowpo.prompt import TEXT_SLOT, Prompt

MAX_COMBINATIONS = 4096


def assignment_score(
    logp: np.ndarray, gold: np.ndarray, ids: Sequence[int], soft_weight: float
) -> float:
    """Return accuracy + ``soft_weight`` x mean gold probability of one word choice.

    Args:
        logp: ``[N, V]`` next-token log-probs.
        gold: ``[N]`` gold label indices.
        ids: One token id per label.
        soft_weight: Weight of the soft score (0 = accuracy only).
    """
    scores = logp[:, list(ids)]  # [N, L]
    acc = float((scores.argmax(1) == gold).mean())
    z = scores - scores.max(1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    soft = float(probs[np.arange(len(gold)), gold].mean())
    return acc + soft_weight * soft


def search(
    logp: np.ndarray,
    gold: np.ndarray,
    candidates: Sequence[Sequence[int]],
    soft_weight: float = 0.5,
) -> tuple[tuple[int, ...], float]:
    """Return the best distinct token per label and its score.

    Exhaustive over the product of the candidate lists when it has at most
    ``MAX_COMBINATIONS`` members, else coordinate ascent from the first candidates.
    """
    sizes = [len(c) for c in candidates]
    if not all(sizes):
        raise ValueError("every label needs at least one candidate word")
    best: tuple[tuple[int, ...], float] = ((), float("-inf"))
    if int(np.prod(sizes)) <= MAX_COMBINATIONS:
        for combo in itertools.product(*candidates):
            if len(set(combo)) == len(combo):
                score = assignment_score(logp, gold, combo, soft_weight)
                if score > best[1]:
                    best = (tuple(combo), score)
        return best
    current = [c[0] for c in candidates]
    best = (tuple(current), assignment_score(logp, gold, current, soft_weight))
    for _ in range(3):
        changed = False
        for label, options in enumerate(candidates):
            for tok in options:
                trial = list(best[0])
                trial[label] = tok
                if len(set(trial)) < len(trial):
                    continue
                score = assignment_score(logp, gold, trial, soft_weight)
                if score > best[1]:
                    best, changed = (tuple(trial), score), True
        if not changed:
            break
    return best


def discriminative_tokens(
    logp: np.ndarray, gold: np.ndarray, n_labels: int, allowed: np.ndarray, k: int = 4
) -> list[list[int]]:
    """Return, per label, the ``k`` allowed tokens the model ranks highest for that label.

    A token's score for label ``l`` is its mean log-prob on the examples of ``l`` minus
    its mean log-prob on the others: words the target itself associates with the label.

    Args:
        logp: ``[N, V]`` next-token log-probs.
        gold: ``[N]`` gold label indices.
        n_labels: Number of labels.
        allowed: ``[V]`` boolean mask of tokens that may serve as label words.
        k: Tokens per label.
    """
    out: list[list[int]] = []
    for label in range(n_labels):
        mine, rest = logp[gold == label], logp[gold != label]
        if len(mine) == 0:
            out.append([])
            continue
        score = mine.mean(0) - (rest.mean(0) if len(rest) else 0.0)
        score = score + 0.5 * mine.mean(0)  # prefer words the model actually says
        score[~allowed] = -np.inf
        out.append([int(t) for t in np.argsort(-score)[:k] if np.isfinite(score[t])])
    return out


RELATED_SIMILARITY = 0.45
"""Least embedding similarity of a word to its label's name for the word to be related.

With MiniLM-L6, words a reader maps back to their label clear it (``bad`` 0.55 to
``negative``, ``tech`` 0.71 to ``technology``, ``person`` 0.76 to ``human``), while function
words and instances of a category sit at 0.41-0.44 and were chosen at the old floor of
0.4 (``neither`` for negative, ``whoever`` for human, ``Iran`` for World, ``GDP`` and
``bill`` for Business): answer words nobody would deploy.
"""
RELATED_MARGIN = 0.1
"""How much closer a related word must be to its own label's name than to any other's.

Above the noise of one-word similarities: with the default embedder (MiniLM-L6) words
unrelated to either label sit up to 0.09 closer to one name than the other (``review``
0.41 to ``positive`` against 0.33 to ``negative``: chosen for CR's positive label at a
margin of 0.05), while ``bad``, ``worse``, ``opinion``, ``company`` or ``tech`` clear 0.1.
"""
Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts -> ``[N, D]`` normalised embeddings (the experience memory's embedder)."""


def related_words(words: list[str], labels: list[str], own: int, embed: Embed) -> list[bool]:
    """Return, per word, whether it is related to ``labels[own]`` rather than to the others.

    Related: embedding similarity to the label's name at least :data:`RELATED_SIMILARITY`
    and :data:`RELATED_MARGIN` above its similarity to every other label's name, so a
    label word stays a word a reader links to its label (``negative`` -> ``worse``, not a
    token that merely separates 32 training examples, such as ``animal``).
    """
    if not words:
        return []
    names = [label.replace("_", " ") for label in labels]
    sims = embed(words) @ embed(names).T  # [W, L]
    others = np.delete(sims, own, axis=1)
    best_other = others.max(axis=1) if others.shape[1] else np.full(len(words), -1.0)
    mine = sims[:, own]
    ok = (mine >= RELATED_SIMILARITY) & (mine >= best_other + RELATED_MARGIN)
    return [bool(x) for x in ok]


def label_word_candidates(
    lm: Any,
    logp: np.ndarray,
    gold: np.ndarray,
    labels: list[str],
    current: dict[str, str],
    *,
    embed: Embed | None = None,
) -> list[list[tuple[int, str]]]:
    """Return (token id, word) candidates per label, current word first.

    Besides the current word and the label's name and its variants, each label gets the
    tokens the target ranks highest for its examples: with ``embed`` (related words, the
    default of the loop) only common words (:func:`common_word_mask`) that
    :func:`related_words` keeps, from a wider list; without it (``--label-words free``)
    the top four, whatever they are. With ``embed`` the current word is a candidate only
    when it is related to its label too: an unrelated current word (SST-2's ``yes`` for
    ``positive``) means something only beside its partners (``no``), so it is not mixed
    with new words (``negative``/``yes``); :func:`best_label_words` weighs the current
    words as a whole instead.
    """
    allowed = word_mask(lm) if embed is None else common_word_mask(lm)
    found = discriminative_tokens(logp, gold, len(labels), allowed, k=4 if embed is None else 40)
    if embed is not None:
        for i, extra in enumerate(found):
            words = [lm.tokenizer.decode([t]).strip() for t in extra]
            keep = related_words(words, labels, i, embed)
            found[i] = [t for t, k in zip(extra, keep, strict=True) if k][:4]
    out = []
    for i, (label, extra) in enumerate(zip(labels, found, strict=True)):
        names = [label, label.lower(), label.capitalize(), label.replace("_", " ").split()[0]]
        mine = current[label]
        related = embed is None or mine in names or related_words([mine], labels, i, embed)[0]
        words = [*([mine] if related else []), *names]
        words += [lm.tokenizer.decode([t]).strip() for t in extra]
        seen: dict[int, str] = {}
        for w in words:
            ids = lm.encode(" " + w) if w else []
            if len(ids) == 1 and ids[0] not in seen:
                seen[ids[0]] = w
        out.append(list(seen.items()))
    return out


async def best_label_words(
    lm: Any,
    task: Any,
    prompt: Prompt,
    train: list[Any],
    soft_weight: float,
    *,
    embed: Embed | None = None,
) -> dict[str, str]:
    """Return the one-token label words that score ``prompt``'s frame best on ``train``.

    Multi-token label words (scored as sequences by the evaluator) are not candidates
    here: the search may replace them with one-token words, and the caller keeps the
    replacement only when it scores better.

    Reads the target's next-token log-probs of the same prefix and texts the evaluator
    scores, so after the prompt was evaluated the rows come from the model's memo and the
    search costs no forward pass, whatever the number of candidate words. A prompt that
    retrieves its demonstrations keeps its words: its demonstrations answer in them, so
    every candidate would change the inputs and cost a forward pass per example.
    """
    found = await scored_label_words(lm, task, prompt, train, soft_weight, embed=embed)
    return found[0]


async def scored_label_words(
    lm: Any,
    task: Any,
    prompt: Prompt,
    train: list[Any],
    soft_weight: float,
    *,
    embed: Embed | None = None,
) -> tuple[dict[str, str], float | None]:
    """Return :func:`best_label_words` and their :func:`assignment_score` on those rows.

    The score is read from the rows of ``prompt`` as it is (the relabelled prompt's own
    quoted words may move it a little); ``None`` when no one-token choice was scored.
    """
    current = {**task.verbalizers, **(prompt.verbalizers or {})}
    kept = {lab: current[lab] for lab in task.labels}
    if prompt.retrieve:
        return kept, None
    prefix, pattern = prompt.split_render(task.template)
    texts = [pattern.replace(TEXT_SLOT, task.format_input(e)) for e in train]
    logp = (await asyncio.to_thread(lm.next_token_logprobs, prefix, texts)).numpy()
    labels = list(task.labels)
    gold = np.array([labels.index(e.target) for e in train])
    candidates = await asyncio.to_thread(
        label_word_candidates, lm, logp, gold, labels, current, embed=embed
    )
    whole = [lm.encode(" " + current[lab]) for lab in labels]  # the current words together
    mine = None
    if all(len(t) == 1 for t in whole) and len({t[0] for t in whole}) == len(whole):
        mine = assignment_score(logp, gold, [t[0] for t in whole], soft_weight)
    if not all(candidates):  # e.g. a multi-token label with no one-token variant: keep it
        return kept, mine
    ids, score = search(logp, gold, [[t for t, _ in c] for c in candidates], soft_weight)
    if not ids or (mine is not None and mine >= score):  # no distinct choice, or no better
        return kept, mine
    return {lab: dict(c)[t] for lab, c, t in zip(labels, candidates, ids, strict=True)}, score


def word_mask(lm: Any) -> np.ndarray:
    """Return the tokens that are a space plus a word of 2+ letters (cached per model)."""
    cached = getattr(lm, "_word_mask", None)
    if cached is not None:
        return np.asarray(cached)
    vocab = lm.tokenizer.convert_ids_to_tokens(list(range(len(lm.tokenizer))))
    size = lm.model.get_output_embeddings().weight.shape[0]
    mask = np.zeros(size, dtype=bool)
    for i, tok in enumerate(vocab[:size]):
        mask[i] = bool(tok) and tok.startswith("Ġ") and tok[1:].isalpha() and len(tok) > 2
    lm._word_mask = mask
    return mask


FUNCTION_WORDS = frozenset(
    """a an the this that these those some any each every either neither both all no none
    not nor and or but if then than so as of in on at by for from to into onto with without
    about above below under over after before between through during against among per via
    up down out off i me my we us our you your he him his she her it its they them their
    who whom whose whoever which what whatever where when why how there here
    is am are was were be been being do does did have has had will would shall should can
    could may might must also only just very too""".split()
)
"""Words that carry grammar, not meaning: never an answer word found by the search (TREC got
``In`` for location, SST-2 ``neither`` for negative). A task's own words may still be any."""


def common_word_mask(lm: Any) -> np.ndarray:
    """Return the content-word tokens whose lowercase form is a token too (cached per model).

    A name (``Edinburgh``, ``Iran``, ``GDP``, ``Obama``) is rarely written in lowercase,
    so its lowercase form is no token of the target's vocabulary, while a common word's
    is (``Business``/``business``, ``Bill``/``bill``). A name is an instance of a category,
    not its name: with MiniLM it sits near its category (``Edinburgh`` 0.48 to
    ``location``), and as an answer word it tells a reader nothing about the label. A
    name whose lowercase form is another word (``Los``/``los``, ``Google``/``google``) is
    caught by the BPE merge order, which follows frequency: its capitalised token came
    first (lower id), so the corpus writes it capitalised more often than not.
    """
    cached = getattr(lm, "_common_word_mask", None)
    if cached is not None:
        return np.asarray(cached)
    mask = word_mask(lm).copy()
    vocab = lm.tokenizer.convert_ids_to_tokens(list(range(len(mask))))
    ids = {tok: i for i, tok in enumerate(vocab)}
    for i in np.flatnonzero(mask):
        word = vocab[i][1:].lower()
        lower = ids.get("Ġ" + word)
        mask[i] = lower is not None and lower <= i and word not in FUNCTION_WORDS
    lm._common_word_mask = mask
    return mask
