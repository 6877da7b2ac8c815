"""One registry of search methods (graph loop and baselines), in the spirit of DSPy's compile.

Example:
    >>> from flowpo.methods import get_method, method_names
    >>> method_names(graph=True)
    ['promptflow', 'gflowpo', 'hybrid']
    >>> get_method("opro").needs_llm, get_method("opro").graph
    (True, False)
"""

from flowpo.methods import catalog as _catalog  # noqa: F401 - registers the built-ins
from flowpo.methods.base import METHODS, Baseline, Method, get_method, method_names, register
from flowpo.methods.catalog import DEFAULT_METHOD

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "Baseline",
    "Method",
    "get_method",
    "method_names",
    "register",
]
