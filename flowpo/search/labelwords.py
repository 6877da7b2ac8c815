"""Label-word search on cached next-token log-probs: no forward pass per candidate.

Given the ``[N, V]`` next-token log-probs of a prompt on the reward set, every choice of
label words can be scored by indexing alone, so the search is exhaustive when the
candidate lists are small and coordinate ascent otherwise. :func:`best_label_words` reads
those log-probs from a local target and searches the candidate words of each label, with
contextual calibration off and on: the words and the calibration both set the label
prior a frame induces, so they are chosen together (calibration costs the log-probs of
three content-free inputs, whatever the number of candidates).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from flowpo.evaluation.evaluator import CONTENT_FREE
from flowpo.prompt import TEXT_SLOT, Prompt
from flowpo.search.coherence import answer_words, relabel

MAX_COMBINATIONS = 4096


def content_free_bias(free: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Return ``[L]``: log of the mean label-word distribution over content-free rows.

    The bias contextual calibration subtracts (Zhao et al., 2021), computed exactly as the
    evaluator computes it, from ``free``, the ``[C, V]`` log-probs of the content-free inputs.
    """
    rows = free[:, list(ids)]  # [C, L]
    z = np.exp(rows - rows.max(1, keepdims=True))
    return np.log(np.maximum((z / z.sum(1, keepdims=True)).mean(0), 1e-12))


def assignment_score(
    logp: np.ndarray,
    gold: np.ndarray,
    ids: Sequence[int],
    soft_weight: float,
    free: np.ndarray | None = None,
) -> float:
    """Return accuracy + ``soft_weight`` x mean gold probability of one word choice.

    Args:
        logp: ``[N, V]`` next-token log-probs.
        gold: ``[N]`` gold label indices.
        ids: One token id per label.
        soft_weight: Weight of the soft score (0 = accuracy only).
        free: ``[C, V]`` log-probs of content-free inputs: score calibrated (else raw).
    """
    scores = logp[:, list(ids)]  # [N, L]
    if free is not None:
        scores = scores - content_free_bias(free, ids)
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
    free: np.ndarray | None = None,
) -> tuple[tuple[int, ...], float]:
    """Return the best distinct token per label and its score.

    Exhaustive over the product of the candidate lists when it has at most
    ``MAX_COMBINATIONS`` members, else coordinate ascent from the first candidates. With
    ``free`` (content-free log-probs) every choice is scored calibrated.
    """
    sizes = [len(c) for c in candidates]
    if not all(sizes):
        raise ValueError("every label needs at least one candidate word")
    best: tuple[tuple[int, ...], float] = ((), float("-inf"))
    if int(np.prod(sizes)) <= MAX_COMBINATIONS:
        for combo in itertools.product(*candidates):
            if len(set(combo)) == len(combo):
                score = assignment_score(logp, gold, combo, soft_weight, free)
                if score > best[1]:
                    best = (tuple(combo), score)
        return best
    current = [c[0] for c in candidates]
    best = (tuple(current), assignment_score(logp, gold, current, soft_weight, free))
    for _ in range(3):
        changed = False
        for label, options in enumerate(candidates):
            for tok in options:
                trial = list(best[0])
                trial[label] = tok
                if len(set(trial)) < len(trial):
                    continue
                score = assignment_score(logp, gold, trial, soft_weight, free)
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


RELATED_SIMILARITY = 0.4
"""Least embedding similarity of a word to its label's name for the word to be related."""
RELATED_MARGIN = 0.05
"""How much closer a related word must be to its own label's name than to any other's."""
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
    default of the loop) only those :func:`related_words` keeps, from a wider list; without
    it (``--label-words free``) the top four, whatever they are.
    """
    allowed = word_mask(lm)
    found = discriminative_tokens(logp, gold, len(labels), allowed, k=4 if embed is None else 40)
    if embed is not None:
        for i, extra in enumerate(found):
            words = [lm.tokenizer.decode([t]).strip() for t in extra]
            keep = related_words(words, labels, i, embed)
            found[i] = [t for t, k in zip(extra, keep, strict=True) if k][:4]
    out = []
    for label, extra in zip(labels, found, strict=True):
        words = [
            current[label],
            label,
            label.lower(),
            label.capitalize(),
            label.replace("_", " ").split()[0],
        ]
        words += [lm.tokenizer.decode([t]).strip() for t in extra]
        seen: dict[int, str] = {}
        for w in words:
            ids = lm.encode(" " + w) if w else []
            if len(ids) == 1 and ids[0] not in seen:
                seen[ids[0]] = w
        out.append(list(seen.items()))
    return out


@dataclass(frozen=True)
class LabelChoice:
    """Label words and whether their scores are calibrated: what a frame's answer needs."""

    words: dict[str, str]
    calibrate: bool

    def applied(self, prompt: Prompt, task: Any) -> Prompt | None:
        """Return ``prompt`` with this choice, or None when it already has it.

        The text and demonstrations of the returned prompt name the new words.
        """
        current = answer_words(prompt, task)
        if self.words == current and self.calibrate == prompt.calibrate:
            return None
        return replace(relabel(prompt, current, self.words), calibrate=self.calibrate)


async def best_label_words(
    lm: Any,
    task: Any,
    prompt: Prompt,
    train: list[Any],
    soft_weight: float,
    *,
    embed: Embed | None = None,
) -> LabelChoice:
    """Return the one-token label words, calibrated or not, that score ``prompt`` best.

    Multi-token label words (scored as sequences by the evaluator) are not candidates
    here: the search may replace them with one-token words, and the caller keeps the
    replacement only when it scores better. Ties keep the prompt's current calibration.

    Reads the target's next-token log-probs of the same prefix and texts the evaluator
    scores, so after the prompt was evaluated the rows come from the model's memo and the
    search costs no forward pass, whatever the number of candidate words.
    """
    prefix, pattern = prompt.split_render(task.template)
    texts = [pattern.replace(TEXT_SLOT, task.format_input(e)) for e in train]
    logp = (await asyncio.to_thread(lm.next_token_logprobs, prefix, texts)).numpy()
    labels = list(task.labels)
    gold = np.array([labels.index(e.target) for e in train])
    current = {**task.verbalizers, **(prompt.verbalizers or {})}
    candidates = await asyncio.to_thread(
        label_word_candidates, lm, logp, gold, labels, current, embed=embed
    )
    if not all(candidates):  # e.g. a multi-token label with no one-token variant: keep it
        return LabelChoice({lab: current[lab] for lab in labels}, prompt.calibrate)
    free_texts = [pattern.replace(TEXT_SLOT, t) for t in CONTENT_FREE]
    free = (await asyncio.to_thread(lm.next_token_logprobs, prefix, free_texts)).numpy()
    ids_lists = [[t for t, _ in c] for c in candidates]
    named = [_named(c, lab) for c, lab in zip(candidates, labels, strict=True)]
    ids, calibrate = choose_words(logp, gold, ids_lists, named, free, soft_weight,
                                  prompt.calibrate)
    words = {lab: dict(c)[t] for lab, c, t in zip(labels, candidates, ids, strict=True)}
    return LabelChoice(words, calibrate)


def _named(candidates: list[tuple[int, str]], label: str) -> int:
    """Return the token of the label's own name among its candidates (else the current)."""
    names = (label.replace("_", " ").lower(), label.replace("_", " "), label.capitalize())
    for name in names:
        for tok, word in candidates:
            if word == name:
                return tok
    return candidates[0][0]


def choose_words(
    logp: np.ndarray,
    gold: np.ndarray,
    candidates: Sequence[Sequence[int]],
    named: Sequence[int],
    free: np.ndarray,
    soft_weight: float,
    calibrate: bool,
) -> tuple[tuple[int, ...], bool]:
    """Return the label tokens and calibration to use: the labels' names unless beaten.

    Words chosen on a few dozen examples overfit: the best of K choices scored on n
    examples beats the truth by about sqrt(2 ln K) standard errors by chance alone. So
    other words replace the labels' own names only when their accuracy is higher than the
    names' by more than that many standard errors of the names' accuracy, with K the word
    choices and calibrations tried (the soft score, which the search also maximises, does
    not count here). Calibration is tried both ways for each; ties keep ``calibrate``, the
    prompt's current setting.
    """
    order = (calibrate, not calibrate)  # the current setting first: ties keep it
    best = {cal: search(logp, gold, candidates, soft_weight, free if cal else None)
            for cal in order}
    top = max(order, key=lambda cal: best[cal][1])
    own = {cal: assignment_score(logp, gold, named, soft_weight, free if cal else None)
           for cal in order} if len(set(named)) == len(named) else {}
    if not own:
        return best[top][0], top
    mine = max(order, key=lambda cal: own[cal])
    acc = assignment_score(logp, gold, named, 0.0, free if mine else None)
    rival = assignment_score(logp, gold, best[top][0], 0.0, free if top else None)
    tried = 2 * min(int(np.prod([len(c) for c in candidates])), MAX_COMBINATIONS)
    spread = np.sqrt(2 * np.log(max(tried, 2)))  # how far the best of `tried` draws strays
    noise = float(spread * np.sqrt(max(acc * (1 - acc), 1.0 / len(gold)) / len(gold)))
    if rival > acc + noise:
        return best[top][0], top
    return tuple(named), mine


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
