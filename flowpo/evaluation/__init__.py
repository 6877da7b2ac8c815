"""Scoring prompts: the evaluator, its SQLite result cache, and the example budget."""

from flowpo.evaluation.budget import BudgetSpent, ExampleBudget
from flowpo.evaluation.cache import EvalCache
from flowpo.evaluation.evaluator import Budget, Evaluator

__all__ = ["Budget", "BudgetSpent", "EvalCache", "Evaluator", "ExampleBudget"]
