"""Import every operator module so each class registers itself in ``REGISTRY``."""

from flowpo.operators import evolution, fewshot, framing, rag, reasoning, rewrite, structure

__all__ = ["evolution", "fewshot", "framing", "rag", "reasoning", "rewrite", "structure"]
