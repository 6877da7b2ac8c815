"""Custom metrics: check early that a user's callable is a metric."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

from flowpo.types import Example

MetricFn = Callable[[Any, Example], float]
"""A custom metric: (prediction, example) -> score in [0, 1]."""

_DUMMY = Example(id="dummy", input="dummy input", target="dummy target", targets=("dummy target",))


def check_metric_callable(
    fn: object, example: Example | None = None, prediction: Any = "dummy prediction"
) -> MetricFn:
    """Check early that ``fn`` is a metric: (prediction, example) -> real number in [0, 1].

    Args:
        fn: The user's metric.
        example: An example to try it on (a task's own is best); a dummy by default.
        prediction: The prediction to try it on.

    Raises:
        TypeError: If ``fn`` is not callable, takes other arguments, raises on the trial
            call, or returns something that is not a real number.
        ValueError: If it returns NaN or a number outside [0, 1].
    """
    name = getattr(fn, "__name__", repr(fn))
    fix = "Fix: pass a function metric(prediction, example) -> float in [0, 1]"
    if not callable(fn):
        raise TypeError(f"custom metric {name} is not callable. {fix}")
    trial = example if example is not None else _DUMMY
    try:
        inspect.signature(fn).bind(prediction, trial)
    except TypeError as err:
        raise TypeError(
            f"custom metric {name} cannot take (prediction, example): {err}. {fix}"
        ) from err
    except ValueError:  # no signature to inspect (some builtins): rely on the call
        pass
    try:
        value = fn(prediction, trial)
    except Exception as err:
        raise TypeError(
            f"custom metric {name} raised {type(err).__name__}: {err} when "
            f"called on ({prediction!r}, example {trial.id!r}). {fix}"
        ) from err
    if not isinstance(value, numbers.Real):
        raise TypeError(
            f"custom metric {name} returned {type(value).__name__}, not a real number. {fix}"
        )
    if math.isnan(float(value)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"custom metric {name} returned {value!r}, outside [0, 1]. "
            f"Fix: rescale its scores into [0, 1]"
        )
    return fn
