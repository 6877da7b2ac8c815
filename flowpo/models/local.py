"""The local target model: a torch causal LM with batched, prefix-cached verbalizer scoring."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Any

import torch

from flowpo.errors import ModelError
from flowpo.models.base import TargetLM
from flowpo.models.device import pick_device, pick_dtype
from flowpo.models.embedded import EMBEDDED_NAME
from flowpo.models.loading import cache_arg, load_causal_lm, seeded
from flowpo.models.sequences import continuation_logprobs, label_token_ids

KV = list[tuple[torch.Tensor, torch.Tensor]]


class LocalLM(TargetLM):
    """A local causal LM as the target model.

    The prompt is the same for every example, so its key/value cache is computed once
    and reused across the batch; only each example's own tokens go through the model.
    Only the hidden state of each example's last token meets the output layer.
    """

    def __init__(
        self,
        name: str = EMBEDDED_NAME,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        prefix_cache: bool = True,
        memo_size: int = 1024,
    ) -> None:
        """Name the model; its weights load at first use (shared by same name, device, dtype).

        An evaluation whose answers are all cached never touches the weights, so it
        loads nothing.
        """
        super().__init__()
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.name = name
        self._tokenizer: Any = None
        self._model: Any = None
        self.model_id = f"local:{name}"
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        self._kv: OrderedDict[str, KV] = OrderedDict()
        self._memo: OrderedDict[tuple[str, str], torch.Tensor] = OrderedDict()
        self.memo_size = memo_size
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Return whether the weights are loaded (they load at first use)."""
        return self._model is not None

    def _load(self) -> None:
        self._tokenizer, self._model = load_causal_lm(self.name, self.device, self.dtype)

    @property
    def tokenizer(self) -> Any:
        """Return the tokenizer, loading the model first if needed."""
        if self._tokenizer is None:
            self._load()
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, value: Any) -> None:
        self._tokenizer = value

    @property
    def model(self) -> Any:
        """Return the torch model, loading it first if needed."""
        if self._model is None:
            self._load()
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    @property
    def cache_key(self) -> str:
        """Return what identifies this model's numbers: its id and dtype."""
        return f"{self.model_id}@{self.dtype}"

    # ---- tokens -------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Return token ids of ``text`` without special tokens."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def word_token(self, word: str, *, leading_space: bool = True) -> int:
        """Return the single token id of a label word, or raise with alternatives."""
        text = (" " + word) if leading_space and not word.startswith(" ") else word
        ids = self.encode(text)
        if len(ids) == 1:
            return ids[0]
        raise ModelError(
            f"the verbalizer {word!r} is {len(ids) or 'no'} tokens for {self.model_id} "
            f"({[self.tokenizer.decode([i]) for i in ids]}), but scoring needs one token",
            field="verbalizers",
            fix=f"use a one-token word instead; candidates: {self.alternatives(word)}",
        )

    def alternatives(self, word: str) -> list[str]:
        """Suggest one-token variants of ``word`` (casing, and its first token)."""
        out: list[str] = []
        for v in dict.fromkeys([word.lower(), word.capitalize(), word.upper(), word.strip()]):
            if v and len(self.encode(" " + v)) == 1:
                out.append(v)
        first = self.encode(" " + word.strip())
        if first:
            out.append(self.tokenizer.decode(first[:1]).strip())
        return list(dict.fromkeys(x for x in out if x))

    def check_words(self, words: list[str]) -> None:
        """Raise ``ModelError`` for an empty label word or two labels with the same tokens.

        A word of several tokens is fine: it is scored as a sequence
        (:mod:`flowpo.models.sequences`).
        """
        label_token_ids(self.encode, words, self.model_id)

    # ---- scoring ------------------------------------------------------------------
    async def score_labels(
        self, prefix: str, texts: list[str], words: list[str]
    ) -> list[list[float]]:
        """Return the log-prob of each label word after ``prefix + text``.

        A one-token word is its next-token log-prob; a longer word is the sum of its
        tokens' log-probs (see :mod:`flowpo.models.sequences` for the length handling).
        """
        seqs = label_token_ids(self.encode, words, self.model_id)
        return await asyncio.to_thread(self.score_sequences, prefix, texts, seqs)

    @torch.inference_mode()
    def score_sync(
        self, prefix: str, texts: list[str], word_ids: list[int], *, use_cache: bool | None = None
    ) -> list[list[float]]:
        """Score one-token words; ``use_cache=False`` runs the full text (the plain baseline)."""
        return self.score_sequences(prefix, texts, [[i] for i in word_ids], use_cache=use_cache)

    @torch.inference_mode()
    def score_sequences(
        self, prefix: str, texts: list[str], seqs: list[list[int]], *, use_cache: bool | None = None
    ) -> list[list[float]]:
        """Return ``[N][W]`` log-probs of each token sequence after ``prefix + text``."""
        use_cache = self.prefix_cache if use_cache is None else use_cache
        rows = self.next_token_logprobs(prefix, texts, use_cache=use_cache)  # [N, V]
        scores = rows[:, [s[0] for s in seqs]].float().cpu()
        if any(len(s) > 1 for s in seqs):
            prefix_ids = self.encode(prefix) if prefix else []
            text_ids = [self.encode(t) for t in texts]
            with self._lock:
                kv = self._prefix_kv(prefix, prefix_ids) if use_cache and prefix_ids else None

                def hidden(inputs: list[list[int]]) -> torch.Tensor:
                    self.stats.calls += 1
                    self.stats.tokens_in += sum(len(s) for s in inputs)
                    if kv is not None:
                        return self._hidden(kv, len(prefix_ids), inputs)[0]
                    states = self._hidden(None, 0, [prefix_ids + s for s in inputs])[0]
                    return states[:, len(prefix_ids) :]

                scores += continuation_logprobs(
                    hidden, self.model.lm_head, text_ids, seqs, self.batch_size
                )
        return scores.tolist()

    @torch.inference_mode()
    def next_token_logprobs(
        self, prefix: str, texts: list[str], *, use_cache: bool | None = None
    ) -> torch.Tensor:
        """Return ``[N, V]`` next-token log-probs after ``prefix + text`` for each text.

        Rows are remembered (LRU, ``memo_size`` rows), so changing only the label words,
        or searching them exhaustively, needs no new forward pass.
        """
        use_cache = self.prefix_cache if use_cache is None else use_cache
        out: list[torch.Tensor | None] = [
            self._memo_get((prefix, t)) if use_cache else None for t in texts
        ]
        todo = [i for i, row in enumerate(out) if row is None]
        if todo:
            prefix_ids = self.encode(prefix) if prefix else []
            suffixes = {i: self.encode(texts[i]) for i in todo}
            order = sorted(todo, key=lambda i: len(suffixes[i]))  # batch by length
            with self._lock:
                kv = self._prefix_kv(prefix, prefix_ids) if use_cache and prefix_ids else None
                for start in range(0, len(order), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    if kv is not None:
                        logits = self._forward_cached(
                            kv, len(prefix_ids), [suffixes[i] for i in idx]
                        )
                    else:
                        logits = self._forward_full([prefix_ids + suffixes[i] for i in idx])
                    logp = torch.log_softmax(logits.float(), dim=-1)  # [B, V]
                    for i, row in zip(idx, logp, strict=True):
                        out[i] = row
                        if use_cache:
                            self._memo_put((prefix, texts[i]), row)
        return torch.stack([row for row in out if row is not None])

    @torch.inference_mode()
    def next_token_logprobs_ids(self, seqs: list[list[int]]) -> torch.Tensor:
        """Return ``[N, V]`` next-token log-probs after each token sequence.

        The sequences' longest common token prefix (e.g. a chat template and a shared
        instruction) runs once and its key/value cache serves the whole batch, so a
        server can batch requests from different clients without knowing their prompts.
        """
        if any(not s for s in seqs):
            raise ModelError("an input has no tokens", field="input", fix="send a non-empty prompt")
        plen = min(len(s) for s in seqs) - 1  # every sequence keeps >= 1 token of its own
        for j in range(plen):
            if any(s[j] != seqs[0][j] for s in seqs):
                plen = j
                break
        prefix = seqs[0][:plen]
        out: list[torch.Tensor | None] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # batch by length
        with self._lock:
            kv = self._prefix_kv("\0ids:" + ",".join(map(str, prefix)), prefix) if plen else None
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                if kv is not None:
                    logits = self._forward_cached(kv, plen, [seqs[i][plen:] for i in idx])
                else:
                    logits = self._forward_full([seqs[i] for i in idx])
                for i, row in zip(idx, torch.log_softmax(logits.float(), dim=-1), strict=True):
                    out[i] = row
        return torch.stack([row for row in out if row is not None])

    def _memo_get(self, key: tuple[str, str]) -> torch.Tensor | None:
        row = self._memo.get(key)
        if row is not None:
            self._memo.move_to_end(key)
        return row

    def _memo_put(self, key: tuple[str, str], row: torch.Tensor) -> None:
        self._memo[key] = row
        while len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)

    def _prefix_kv(self, prefix: str, prefix_ids: list[int]) -> KV:
        if prefix in self._kv:
            self._kv.move_to_end(prefix)
            return self._kv[prefix]
        ids = torch.tensor([prefix_ids], device=self.device)
        out = self.model(input_ids=ids, use_cache=True)
        cache = out.cache if cache_arg() == "cache" else out.past_key_values
        kv = [(layer.keys, layer.values) for layer in cache.layers]  # each [1, H, P, D]
        self.stats.calls += 1
        self.stats.tokens_in += len(prefix_ids)
        self._kv[prefix] = kv
        while len(self._kv) > 8:
            self._kv.popitem(last=False)
        return kv

    def _forward_cached(self, kv: KV, plen: int, suffixes: list[list[int]]) -> torch.Tensor:
        """Run only the examples' tokens on top of the shared prefix cache; [B, V] logits."""
        hidden, lengths = self._hidden(kv, plen, suffixes)
        return self._last_logits(hidden, lengths, len(suffixes), suffixes)

    def _forward_full(self, inputs: list[list[int]]) -> torch.Tensor:
        """Run whole inputs (no prefix reuse); [B, V] logits at each last real token."""
        hidden, lengths = self._hidden(None, 0, inputs)
        return self._last_logits(hidden, lengths, len(inputs), inputs)

    def _hidden(
        self, kv: KV | None, plen: int, seqs: list[list[int]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``[B, T, H]`` hidden states of right-padded ``seqs`` and their lengths.

        With ``kv`` the sequences continue the shared prefix cache (``plen`` tokens).
        Right padding needs no mask: causal attention never lets a real token see a pad.
        """
        from transformers import DynamicCache

        ids, lengths = self._pad_right(seqs)
        if kv is None:
            return self.model.model(input_ids=ids, use_cache=False).last_hidden_state, lengths
        batch = len(seqs)
        cache = DynamicCache(
            ddp_cache_data=[
                (k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv
            ]
        )
        positions = torch.arange(plen, plen + ids.shape[1], device=self.device).expand(batch, -1)
        hidden = self.model.model(
            input_ids=ids, position_ids=positions, use_cache=True, **{cache_arg(): cache}
        ).last_hidden_state  # [B, T, H]
        return hidden, lengths

    def _last_logits(
        self, hidden: torch.Tensor, lengths: torch.Tensor, batch: int, seqs: list[list[int]]
    ) -> torch.Tensor:
        last = hidden[torch.arange(batch, device=self.device), lengths - 1]  # [B, H]
        self.stats.calls += 1
        self.stats.examples += batch
        self.stats.tokens_in += sum(len(s) for s in seqs)
        return self.model.lm_head(last)  # [B, V]

    def _pad_right(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        if any(not s for s in seqs):
            raise ModelError(
                "an example renders to no tokens",
                field="input",
                fix="check the task's input field and template",
            )
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
        lengths = torch.tensor([len(s) for s in seqs], device=self.device)
        return ids, lengths

    # ---- generation ---------------------------------------------------------------
    async def generate(
        self, prefix: str, texts: list[str], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Return greedy continuations of ``prefix + text``, batched."""
        return await asyncio.to_thread(
            self.generate_sync, [prefix + t for t in texts], max_new_tokens=max_new_tokens
        )

    @torch.inference_mode()
    def generate_sync(
        self,
        inputs: list[str],
        *,
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[str]:
        """Decode each input (left-padded batches); greedy unless ``temperature > 0``.

        Sampling is seeded per batch from ``seed`` and a hash of the batch's inputs and
        settings, so the same request with the same seed gives the same text, whatever
        ran before it; ``seed=None`` draws from torch's global generator.
        """
        out: list[str] = []
        tok = self.tokenizer
        tok.padding_side = "left"
        with self._lock:
            for start in range(0, len(inputs), self.batch_size):
                chunk = inputs[start : start + self.batch_size]
                enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = {k: v.to(self.device) for k, v in enc.items()}
                sampling = (
                    {"do_sample": True, "temperature": temperature, "top_p": top_p}
                    if temperature > 0
                    else {"do_sample": False}
                )
                key = [seed, chunk, temperature, top_p, max_new_tokens]
                with seeded(None if seed is None or temperature <= 0 else key):
                    gen = self.model.generate(
                        **enc,
                        max_new_tokens=max_new_tokens,
                        pad_token_id=tok.pad_token_id,
                        **sampling,
                    )
                new = gen[:, enc["input_ids"].shape[1] :]
                self.stats.calls += 1
                self.stats.examples += len(chunk)
                self.stats.tokens_in += int(enc["attention_mask"].sum())
                self.stats.tokens_out += int((new != tok.pad_token_id).sum())
                out.extend(tok.batch_decode(new, skip_special_tokens=True))
        return out
