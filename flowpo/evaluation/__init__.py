"""Scoring prompts: the evaluator, its SQLite result cache, and budget counters."""

from flowpo.evaluation.cache import EvalCache
from flowpo.evaluation.evaluator import Budget, Evaluator

__all__ = ["Budget", "EvalCache", "Evaluator"]
