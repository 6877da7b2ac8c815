"""Python metrics given as callables, in the three shapes users bring, checked early.

* ``metric(example, output) -> float``
* ``metric(example, output) -> (float, feedback)``: the feedback text reaches the
  bad-case reflector, as GEPA's textual feedback does.
* LangSmith-style evaluators ``evaluator(run, example) -> {"score": ..., "comment": ...}``
  (recognised by a first parameter named ``run``): ``run.outputs == {"output": output}``,
  ``run.inputs`` and ``example.inputs == {"input": ...}``, ``example.outputs ==
  {"output": target}``.

Scores must lie in [0, 1]. A callable cannot be saved in ``config.yaml``: the run saves
``metric: "python:<name>"`` and :func:`flowpo.resume` asks for the same callable again.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flowpo.errors import ConfigError
from flowpo.types import Example

PYTHON_PREFIX = "python:"
"""How a config names a metric that is a Python callable (``python:<function name>``)."""

Scored = tuple[float, str | None]
MetricCall = Callable[[Example, Any], Scored]
"""A normalised metric: (example, output) -> (score in [0, 1], feedback or None)."""

_FIX = (
    "pass metric(example, output) -> float in [0, 1] (or -> (float, feedback)), or a "
    "LangSmith evaluator(run, example) -> {'score': float, 'comment': str}"
)


def metric_name(fn: Callable[..., Any]) -> str:
    """Return the name saved in the run's config: ``python:<qualified name>``."""
    return PYTHON_PREFIX + str(getattr(fn, "__qualname__", None) or type(fn).__name__)


def _langsmith_style(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "run"


def _call(fn: Callable[..., Any], langsmith: bool, example: Example, output: Any) -> Any:
    if not langsmith:
        return fn(example, output)
    run = SimpleNamespace(inputs={"input": example.input}, outputs={"output": output})
    ls_example = SimpleNamespace(
        id=example.id, inputs={"input": example.input}, outputs={"output": example.target}
    )
    return fn(run, ls_example)


def _unpack(name: str, value: Any) -> Scored:
    """Turn a metric's return value into (score, feedback); raise with the fix."""
    feedback: Any = None
    if isinstance(value, dict):
        if "score" not in value:
            raise TypeError(f"metric {name} returned a dict without 'score'. Fix: {_FIX}")
        value, feedback = value["score"], value.get("comment")
    elif isinstance(value, tuple):
        if len(value) != 2:
            raise TypeError(f"metric {name} returned a {len(value)}-tuple. Fix: {_FIX}")
        value, feedback = value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric {name} returned {type(value).__name__}, not a number. Fix: {_FIX}")
    score = float(value)
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise ValueError(f"metric {name} returned {score!r}, outside [0, 1]. Fix: rescale it")
    return score, (None if feedback in (None, "") else str(feedback))


def as_metric(fn: object, example: Example | None = None, output: Any = None) -> MetricCall:
    """Check ``fn`` on one example now and return it as an (example, output) metric.

    Args:
        fn: The user's metric (any of the three shapes in the module docstring).
        example: An example to try it on (the task's first training example is best).
        output: The output to try it on (default: the example's own target).

    Raises:
        TypeError: Not callable, wrong arguments, raises on the trial, or not a number.
        ValueError: A score outside [0, 1] or NaN.
    """
    if not callable(fn):
        raise TypeError(f"metric {fn!r} is not callable. Fix: {_FIX}")
    name = metric_name(fn).removeprefix(PYTHON_PREFIX)
    langsmith = _langsmith_style(fn)
    trial = example or Example("trial", "a trial input", "a trial target")
    try:
        inspect.signature(fn).bind(trial, output)
    except TypeError as err:
        raise TypeError(f"metric {name} cannot take two arguments: {err}. Fix: {_FIX}") from err
    except ValueError:  # no signature to inspect: rely on the trial call
        pass
    try:
        value = _call(fn, langsmith, trial, trial.target if output is None else output)
    except Exception as err:
        raise TypeError(
            f"metric {name} raised {type(err).__name__}: {err} on example {trial.id!r}. Fix: {_FIX}"
        ) from err
    _unpack(name, value)

    def call(ex: Example, out: Any) -> Scored:
        return _unpack(name, _call(fn, langsmith, ex, out))

    return call


_REGISTERED: dict[str, MetricCall] = {}


def register_metric(run_dir: str | Path, call: MetricCall) -> None:
    """Make ``call`` the metric of the run in ``run_dir`` for this process."""
    _REGISTERED[str(Path(run_dir).resolve())] = call


def registered_metric(run_dir: str | Path, name: str) -> MetricCall:
    """Return the Python metric registered for ``run_dir``.

    Raises:
        ConfigError: None is (e.g. ``flowpo resume`` from the shell): names the field.
    """
    call = _REGISTERED.get(str(Path(run_dir).resolve()))
    if call is None:
        raise ConfigError(
            f"the run's metric is the Python callable {name.removeprefix(PYTHON_PREFIX)!r}, "
            "which config.yaml cannot hold",
            where=str(run_dir),
            field="metric",
            fix=f"resume it from Python with the same function: "
            f"flowpo.resume({str(run_dir)!r}, metric=<the function>)",
        )
    return call
