"""Load a local causal LM: a model directory, a GGUF file, or the embedded model.

GGUF files are dequantized once into the flowpo cache (:mod:`flowpo.models.weights`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from flowpo.errors import ModelError
from flowpo.models.embedded import EMBEDDED_NAME, embedded_gguf, embedded_version
from flowpo.models.weights import cached_source

log = logging.getLogger("flowpo.models")


def _quiet_transformers() -> Any:
    """Silence transformers' progress bars and deprecation notes; return the module."""
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return transformers


def _load_gguf(directory: str, gguf: str, dtype: str) -> tuple[Any, Any]:
    """Load (tokenizer, model) from a GGUF file, dequantized, without a progress bar."""
    transformers = _quiet_transformers()
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    bar = getattr(gguf_utils, "tqdm", None)  # its conversion bar ignores the verbosity
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            directory, gguf_file=gguf, local_files_only=True
        )
        model = transformers.AutoModelForCausalLM.from_pretrained(
            directory,
            gguf_file=gguf,
            local_files_only=True,
            dtype=getattr(torch, dtype),
            **_dense_gguf(transformers),
        )
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
    return tokenizer, model


def _dense_gguf(transformers: Any) -> dict[str, Any]:
    """Ask for a plain dense model: trainable (LoRA), no hub lookup for packed kernels.

    Transformers versions without ``GgufConfig`` always dequantize GGUF files.
    """
    config = getattr(transformers, "GgufConfig", None)
    return {} if config is None else {"quantization_config": config(dequantize=True)}


def _load_dense(source: str, dtype: str) -> tuple[Any, Any]:
    transformers = _quiet_transformers()
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        source, local_files_only=True, dtype=getattr(torch, dtype)
    )
    return tokenizer, model


def _gguf_source(name: str) -> tuple[str, str, str] | None:
    """Return (directory, file, version) when ``name`` is a GGUF model, else None."""
    if name == EMBEDDED_NAME:
        directory, gguf = embedded_gguf()
        return str(directory), gguf, embedded_version()
    path = Path(name)
    if not path.exists():
        raise ModelError(
            f"no local model at {name!r}",
            field="model",
            fix=f"give 'local:{EMBEDDED_NAME}', a model directory or a .gguf file",
        )
    return (str(path.parent), path.name, "file") if path.suffix == ".gguf" else None


@lru_cache(maxsize=4)
def load_causal_lm(name: str, device: str, dtype: str, *, cache: bool = True) -> tuple[Any, Any]:
    """Load (tokenizer, model) once per process; the embedded name needs no download.

    A GGUF model is dequantized once and its dense copy kept in the flowpo cache
    directory (:mod:`flowpo.models.weights`); later loads read the copy.

    Args:
        name: ``smollm2-135m`` (the embedded GGUF), a local directory, or a ``.gguf`` path.
        device: ``cpu`` or ``cuda``.
        dtype: ``float32``, ``bfloat16`` or ``float16``.
        cache: Use (and fill) the dequantized-weights cache; False reads the GGUF file.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched from a hub
    log.info("loading model %s ...", name)
    gguf = _gguf_source(name)
    if gguf is None:
        tokenizer, model = _load_dense(name, dtype)
    else:
        directory, file, version = gguf
        dense = (
            cached_source(directory, file, version, lambda: _load_gguf(directory, file, "float32"))
            if cache
            else None
        )
        tokenizer, model = (
            _load_dense(str(dense), dtype) if dense else _load_gguf(directory, file, dtype)
        )
    model.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


@functools.lru_cache(maxsize=1)
def cache_arg() -> str:
    """Return the key/value cache's argument name: ``cache`` (new) or ``past_key_values``."""
    import inspect

    from transformers.models.llama.modeling_llama import LlamaModel

    return (
        "cache"
        if "cache" in inspect.signature(LlamaModel.forward).parameters
        else "past_key_values"
    )


@contextlib.contextmanager
def seeded(key: list[Any] | None) -> Iterator[None]:
    """Seed torch's generator from a hash of ``key`` inside the block (restored after)."""
    if key is None:
        yield
        return
    raw = json.dumps(key, ensure_ascii=False, sort_keys=True).encode()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") >> 1)
        yield
