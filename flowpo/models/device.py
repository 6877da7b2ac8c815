"""Pick the device and dtype: CUDA when present; bfloat16 on CPUs with native support."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from flowpo.errors import ConfigError

DTYPES = ("float32", "bfloat16", "float16")


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Return True when the CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_device(device: str = "auto") -> str:
    """Return ``cuda`` when available (for ``auto``), else ``cpu``; validate explicit choices."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' was asked for but no GPU is visible",
            field="device",
            fix="use --device cpu (or auto)",
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r}", field="device", fix="use auto, cpu or cuda")
    return device


def pick_dtype(dtype: str, device: str) -> str:
    """Return the dtype for ``device``: bf16 where native (fast, same labels), else float32.

    On a CPU without native bf16 support, bf16 is emulated and slower than float32.
    """
    if dtype == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "bfloat16" if cpu_has_bf16() else "float32"
    if dtype not in DTYPES:
        raise ConfigError(
            f"unknown dtype {dtype!r}", field="dtype", fix=f"use auto or one of {', '.join(DTYPES)}"
        )
    return dtype
