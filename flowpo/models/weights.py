"""Dequantize a GGUF model once and keep the dense weights in the flowpo cache directory.

Loading a GGUF file through transformers dequantizes every tensor (about 20 s on a small
CPU). The dense result is saved as safetensors with its config and tokenizer files under
``<cache>/models/<name>-<version>-<sha256 prefix>/``, so every later process loads it in a
few seconds. The directory is written under a temporary name and renamed into place, so a
concurrent process sees either no cache or a whole one, never half a file.

The file's SHA-256 is computed once and remembered in ``<cache>/hashes.json`` keyed by the
file's path, size and modification time; a changed file gets a new hash and a new entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("flowpo.models")

_DONE = "flowpo-complete.json"


def cache_root() -> Path:
    """Return ``$FLOWPO_CACHE_DIR``, or ``$XDG_CACHE_HOME/flowpo``, or ``~/.cache/flowpo``."""
    env = os.environ.get("FLOWPO_CACHE_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "flowpo"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def file_sha256(path: Path, *, root: Path | None = None) -> str:
    """Return the SHA-256 of ``path``, hashing the file only when its size or mtime changed.

    Args:
        path: The file.
        root: The cache directory holding ``hashes.json`` (default: :func:`cache_root`).
    """
    path = path.resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    index = (root or cache_root()) / "hashes.json"
    known: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        known = dict(json.loads(index.read_text()))
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    known[key] = digest.hexdigest()
    with contextlib.suppress(OSError):  # a read-only cache only costs a re-hash next time
        _write_atomic(index, json.dumps(known, indent=1, sort_keys=True))
    return known[key]


def dense_dir(gguf: Path, version: str, *, root: Path | None = None) -> Path:
    """Return where the dense copy of ``gguf`` lives (it may not exist yet).

    Args:
        gguf: The GGUF file.
        version: The version of the package that ships it (``file`` for a loose file).
        root: The cache directory (default: :func:`cache_root`).
    """
    base = root or cache_root()
    sha = file_sha256(gguf, root=base)
    return base / "models" / f"{gguf.stem}-{version}-{sha[:16]}"


def is_complete(directory: Path) -> bool:
    """Return whether ``directory`` holds a whole saved model (its marker is written last)."""
    return (directory / _DONE).is_file()


def save_dense(tokenizer: Any, model: Any, target: Path, source: dict[str, str]) -> Path:
    """Save a dequantized (tokenizer, model) to ``target`` atomically; return ``target``.

    Another process may finish first: its copy is kept and this one discarded (both hold
    the same numbers, as they come from the same file).

    Args:
        tokenizer: The tokenizer loaded from the GGUF file.
        model: The dequantized model (its GGUF quantization config is not saved).
        target: The final directory, from :func:`dense_dir`.
        source: What the copy was made from (written into the completion marker).
    """
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir(parents=True)
    try:
        quant = getattr(model.config, "quantization_config", None)
        if quant is not None:
            del model.config.quantization_config
        try:
            model.save_pretrained(tmp, safe_serialization=True)
        finally:
            if quant is not None:
                model.config.quantization_config = quant
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE).write_text(json.dumps(source, indent=1))
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def cached_source(
    directory: str | Path,
    gguf: str,
    version: str,
    load_gguf: Callable[[], tuple[Any, Any]],
    *,
    root: Path | None = None,
) -> Path | None:
    """Return a directory with the dense copy of ``directory/gguf``, making it if needed.

    Args:
        directory: Folder of the GGUF file.
        gguf: The GGUF file name.
        version: Version of the package shipping the file.
        load_gguf: Loads (tokenizer, model) from the GGUF file, dequantized, in float32.
        root: The cache directory (default: :func:`cache_root`).

    Returns:
        The cached model directory, or None when the cache cannot be written (the caller
        then loads the GGUF file itself).
    """
    path = Path(directory) / gguf
    try:
        target = dense_dir(path, version, root=root)
    except OSError as e:
        log.warning("model cache unavailable (%s); loading the GGUF file", e)
        return None
    if is_complete(target):
        return target
    log.info("dequantizing %s once into %s ...", gguf, target)
    tokenizer, model = load_gguf()
    try:
        return save_dense(tokenizer, model, target, {"gguf": str(path), "version": version})
    except OSError as e:
        log.warning("could not write the model cache %s (%s)", target, e)
        return None
