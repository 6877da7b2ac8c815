"""Import every operator module so each class registers itself in ``REGISTRY``."""

from flowpo.operators import evolution, fewshot, rag, reasoning, rewrite, structure

__all__ = ["evolution", "fewshot", "rag", "reasoning", "rewrite", "structure"]
