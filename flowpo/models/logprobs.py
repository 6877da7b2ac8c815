"""Label-word scores from a chat completion's first-token ``top_logprobs``."""

from __future__ import annotations

import math

from langchain_core.messages import AIMessage

from flowpo.errors import ModelError


def top_tokens(message: AIMessage, *, url: str, model: str, where: str) -> list[tuple[str, float]]:
    """Return the first generated token's alternatives as ``(token, logprob)`` pairs.

    Args:
        message: The chat completion, asked for with ``logprobs`` and ``top_logprobs``.
        url: The API root that answered (named in the error).
        model: The model name as the server knows it (named in the error).
        where: The model id the error is about.

    Raises:
        ModelError: If the response carries no log-probs.
    """
    logprobs = message.response_metadata.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    pairs: list[tuple[str, float]] = []
    if content:
        first = content[0]
        for entry in [*(first.get("top_logprobs") or []), first]:
            if entry.get("token") is not None and entry.get("logprob") is not None:
                pairs.append((str(entry["token"]), float(entry["logprob"])))
    if not pairs:
        raise ModelError(
            f"the endpoint {url} does not return log-probs for model "
            f"'{model}'; verbalizer scoring needs the next-token log-probs "
            "(request options logprobs/top_logprobs)",
            where=where,
            field="logprobs",
            fix="use a server that supports `logprobs` and `top_logprobs` "
            "(e.g. vLLM, or the OpenAI API), or switch the task to generation mode",
        )
    return pairs


def label_scores(pairs: list[tuple[str, float]], words: list[str]) -> list[float]:
    """Map each word to its best matching log-prob, or the floor if absent."""
    best: dict[str, float] = {}
    for token, logprob in pairs:
        key = token.lstrip()
        if logprob > best.get(key, -math.inf):
            best[key] = logprob
    floor = min(logprob for _, logprob in pairs) - math.log(2)
    return [best.get(word.lstrip(), floor) for word in words]
