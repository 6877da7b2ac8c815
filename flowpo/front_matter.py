"""The YAML front matter of a Markdown prompt file: split it off, check its fields."""

from __future__ import annotations

from typing import Any

import yaml

from flowpo.errors import DataError


def split_front_matter(markdown: str, where: str) -> tuple[dict[str, Any], str]:
    """Return the front matter (empty when there is none) and the Markdown after it.

    Raises:
        DataError: The front matter is never closed, does not parse, or is not a mapping.
    """
    if not markdown.startswith("---\n"):
        return {}, markdown
    end = markdown.find("\n---", 4)
    if end < 0:
        raise DataError(
            "the YAML front matter opened with '---' is never closed",
            where=where,
            fix="end the front matter with a line holding only '---'",
        )
    try:
        meta = yaml.safe_load(markdown[4:end]) or {}
    except yaml.YAMLError as e:
        raise DataError(
            f"the YAML front matter does not parse: {e}",
            where=where,
            fix="check the YAML between the '---' lines",
        ) from None
    if not isinstance(meta, dict):
        raise DataError(
            "the front matter must be a YAML mapping",
            where=where,
            fix="write 'key: value' lines between the '---' lines",
        )
    return meta, markdown[end + 4 :].lstrip("-").lstrip("\n")


def front_matter_fields(
    meta: dict[str, Any], where: str
) -> tuple[str | None, dict[str, str] | None, int]:
    """Return the template (not yet checked), the label words and ``retrieve``.

    Raises:
        DataError: ``verbalizers`` is not a mapping, or ``retrieve`` is not an int 0..32.
    """
    template = meta.get("template")
    verbalizers = meta.get("verbalizers")
    if verbalizers is not None and not isinstance(verbalizers, dict):
        raise DataError(
            "'verbalizers' in the front matter must map each label to a word",
            where=where,
            field="verbalizers",
            fix="write e.g. 'verbalizers: {negative: bad, positive: good}'",
        )
    retrieve = meta.get("retrieve", 0)
    if not isinstance(retrieve, int) or isinstance(retrieve, bool) or not 0 <= retrieve <= 32:
        raise DataError(
            f"'retrieve' in the front matter is {retrieve!r}",
            where=where,
            field="retrieve",
            fix="write the number of demonstrations retrieved per input, 0 to 32",
        )
    words = {str(k): str(v) for k, v in verbalizers.items()} if verbalizers else None
    return (None if template is None else str(template)), words, retrieve
