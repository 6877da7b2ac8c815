"""The operator registry: every operator family imported once, strict lookup by name.

Importing this module imports :mod:`~flowpo.operators.base` and then each family in
``FAMILIES``; their ``@register`` decorators fill ``REGISTRY``. Families import only
``base``, ``common`` and ``llm``, never this module, so no import circle remains. A new
operator family is added to the import list below.
"""

from __future__ import annotations

from flowpo.errors import ConfigError
from flowpo.operators import evolution, fewshot, framing, rag, reasoning, rewrite, structure
from flowpo.operators.base import REGISTRY, Operator, register

FAMILIES = (evolution, fewshot, framing, rag, reasoning, rewrite, structure)
"""The operator modules; importing each registers its operator classes."""


def operator_names() -> list[str]:
    """Return the registered operator names, sorted."""
    return sorted(REGISTRY)


def get_operator(name: str) -> Operator:
    """Return an instance of the operator called ``name``; unknown names list the known ones.

    Raises:
        ConfigError: If no operator is registered under ``name``.
    """
    try:
        return REGISTRY[name]()
    except KeyError:
        raise ConfigError(
            f"unknown operator {name!r}",
            field="operators",
            fix=f"use some of: {', '.join(sorted(REGISTRY))}",
        ) from None


__all__ = ["FAMILIES", "REGISTRY", "Operator", "get_operator", "operator_names", "register"]
