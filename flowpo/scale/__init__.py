"""Beyond one machine: Ray fan-out of evaluations and pre-flight checks.

Postgres checkpoints are opened with every other checkpointer, in
:mod:`flowpo.run.checkpoints`.
"""
