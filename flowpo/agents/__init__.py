"""Graph nodes, one module each: evaluator, reflector, selector, editor, sampler.

Nodes are thin adapters over plain modules; the evaluation logic lives in
``flowpo.evaluation`` and is wired in as a node by the optimizer issue.
"""
