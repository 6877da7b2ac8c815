"""Batched generation for the OpenAI-compatible server: one-token scoring and decoding.

No HTTP here: the engine takes a list of requests (token ids plus sampling settings)
and answers them with as few forward passes as it can. A request for one token (what
verbalizer scoring sends) goes through one forward pass over the whole batch, reusing
the key/value cache of the token prefix the batch shares; longer answers go through
``model.generate`` in groups with the same sampling settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import torch

from flowpo.models.local import LocalLM


@dataclass(frozen=True)
class GenRequest:
    """One completion request, already tokenized."""

    prompt_ids: list[int]
    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    top_logprobs: int | None = None
    """``None``: no log-probs; ``k >= 0``: the chosen token's log-prob and the top ``k``."""


@dataclass
class TokenLogprob:
    """The log-prob of one generated token and of its top alternatives."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Choice:
    """One generated answer."""

    text: str
    finish_reason: str
    """``stop`` (end of turn or a stop string) or ``length``."""
    completion_tokens: int
    logprobs: list[TokenLogprob] | None = None


class Engine:
    """Answer batches of completion requests with one local model.

    Args:
        lm: The loaded local model.
        max_tokens_cap: Longest answer any request may ask for (longer asks are cut).
    """

    def __init__(self, lm: LocalLM, *, max_tokens_cap: int = 1024) -> None:
        """Keep the model and read its end-of-turn tokens and context length."""
        self.lm = lm
        self.tokenizer = lm.tokenizer
        self.max_tokens_cap = max_tokens_cap
        config = lm.model.config
        self.context_length = int(getattr(config, "max_position_embeddings", 2048))
        eos = lm.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        self.stop_ids = {int(i) for i in eos_ids if i is not None}
        if self.tokenizer.eos_token_id is not None:
            self.stop_ids.add(int(self.tokenizer.eos_token_id))
        self._lock = threading.Lock()

    # ---- prompts ------------------------------------------------------------------
    def chat_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """Render chat messages with the model's chat template and tokenize them."""
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return self.lm.encode(str(text))

    def encode(self, text: str) -> list[int]:
        """Tokenize a raw completion prompt."""
        return self.lm.encode(text)

    def decode(self, ids: list[int]) -> str:
        """Turn token ids back into text (special tokens dropped)."""
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    # ---- batches ------------------------------------------------------------------
    def run(self, requests: list[GenRequest]) -> list[list[Choice]]:
        """Answer every request (``n`` choices each), batching what can be batched."""
        out: list[list[Choice]] = [[] for _ in requests]
        with self._lock:
            first = [i for i, r in enumerate(requests) if r.max_tokens <= 1]
            if first:
                rows = self.lm.next_token_logprobs_ids([requests[i].prompt_ids for i in first])
                for i, row in zip(first, rows, strict=True):
                    out[i] = [self._one_token(row, requests[i]) for _ in range(requests[i].n)]
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, r in enumerate(requests):
                if r.max_tokens > 1:
                    key = (r.temperature, r.top_p, r.stop, r.top_logprobs is not None)
                    groups.setdefault(key, []).append(i)
            for idx in groups.values():
                for i, choices in zip(idx, self._generate([requests[i] for i in idx]), strict=True):
                    out[i] = choices
        return out

    def _one_token(self, row: torch.Tensor, req: GenRequest) -> Choice:
        """Pick one token from next-token log-probs ``row`` ([V]) and describe it."""
        token_id = _pick(row, req.temperature, req.top_p)
        text = "" if token_id in self.stop_ids else self.decode([token_id])
        logprobs = [self._token_logprob(row, token_id, req.top_logprobs)] if (
            req.top_logprobs is not None
        ) else None
        stopped = token_id in self.stop_ids or any(s in text for s in req.stop)
        for s in req.stop:
            text = text.split(s)[0]
        return Choice(text, "stop" if stopped else "length", 1, logprobs)

    def _token_logprob(self, row: torch.Tensor, token_id: int, k: int | None) -> TokenLogprob:
        top: list[tuple[str, float]] = []
        if k:
            values, ids = torch.topk(row, min(k, row.shape[-1]))
            top = [
                (self.tokenizer.decode([int(i)]), float(v))
                for v, i in zip(values.tolist(), ids.tolist(), strict=True)
            ]
        return TokenLogprob(self.tokenizer.decode([token_id]), float(row[token_id]), top)

    @torch.inference_mode()
    def _generate(self, requests: list[GenRequest]) -> list[list[Choice]]:
        """Decode a group sharing sampling settings; each request's ``n`` copies in one batch."""
        ref = requests[0]
        flat = [(i, r.prompt_ids) for i, r in enumerate(requests) for _ in range(r.n)]
        max_new = min(max(r.max_tokens for r in requests), self.max_tokens_cap)
        pad = self.tokenizer.pad_token_id
        width = max(len(ids) for _, ids in flat)
        device = self.lm.device
        input_ids = torch.tensor(
            [[pad] * (width - len(ids)) + ids for _, ids in flat], device=device
        )  # [B, T] left-padded
        mask = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for _, ids in flat], device=device
        )
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": ref.temperature, "top_p": ref.top_p}
            if ref.temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        if ref.stop:
            sampling.update(stop_strings=list(ref.stop), tokenizer=self.tokenizer)
        gen = self.lm.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            max_new_tokens=max_new,
            pad_token_id=pad,
            return_dict_in_generate=True,
            output_logits=ref.top_logprobs is not None,
            **sampling,
        )
        new = gen.sequences[:, width:]  # [B, new]
        logits = torch.stack(gen.logits, dim=1) if ref.top_logprobs is not None else None
        out: list[list[Choice]] = [[] for _ in requests]
        for b, (i, _) in enumerate(flat):
            row_logits = logits[b] if logits is not None else None  # [new, V]
            out[i].append(self._finish(new[b].tolist(), row_logits, requests[i]))
        self.lm.stats.calls += 1
        self.lm.stats.examples += len(flat)
        return out

    def _finish(
        self, ids: list[int], logits: torch.Tensor | None, req: GenRequest
    ) -> Choice:
        """Cut one decoded sequence at end of turn, its own length or a stop string."""
        ids = ids[: min(req.max_tokens, self.max_tokens_cap)]
        reason = "length"
        for j, t in enumerate(ids):
            if t in self.stop_ids:
                ids, reason = ids[:j], "stop"
                break
        text = self.decode(ids)
        cut = min((text.find(s) for s in req.stop if s in text), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
            while ids and len(self.decode(ids[:-1])) >= cut:
                ids = ids[:-1]  # keep the tokens of the text that is returned
        logprobs = None
        if logits is not None and req.top_logprobs is not None:
            rows = torch.log_softmax(logits[: len(ids)].float(), dim=-1)  # [len, V]
            logprobs = [
                self._token_logprob(row, t, req.top_logprobs)
                for row, t in zip(rows, ids, strict=True)
            ]
        return Choice(text, reason, len(ids), logprobs)


def _pick(row: torch.Tensor, temperature: float, top_p: float) -> int:
    """Return the greedy token of log-probs ``row``, or sample it (temperature, nucleus)."""
    if temperature <= 0:
        return int(torch.argmax(row))
    probs = torch.softmax(row.float() / temperature, dim=-1)  # [V]
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1))
