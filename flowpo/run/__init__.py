"""Running an optimization.

The runner, the run directory, server requests, traces and human approval.
"""
