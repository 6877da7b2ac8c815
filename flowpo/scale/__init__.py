"""Beyond one machine: Ray fan-out of evaluations, Postgres checkpoints, pre-flight checks."""
