"""flowpo: train prompts like neural networks.

The public API: tasks and examples, sectioned prompts, target models by spec string,
the evaluator and its cache, metrics, configuration, the search methods' registry, and
the error types.

Example:
    >>> import flowpo
    >>> flowpo.Prompt.from_text("Be brief.").render("hi", "{prompt} Input : {text} Output:")
    'Be brief. Input : hi Output:'
"""

from flowpo.classifier import Classifier
from flowpo.config import DataOptions, EvalConfig, OptimizeConfig
from flowpo.configurable import ConfigurableProgram
from flowpo.dataset import Dataset
from flowpo.errors import ConfigError, DataError, FlowpoError, ModelError
from flowpo.evaluation import Budget, EvalCache, Evaluator
from flowpo.graphs.service import create_builder, create_graph
from flowpo.methods import METHODS, Method, get_method
from flowpo.metrics import METRICS, corpus_score, score_example
from flowpo.metrics.judge import Judge
from flowpo.models import DEFAULT_MODEL, TargetLM, load_target, parse_spec
from flowpo.programs import ChatProgram
from flowpo.prompt import DEFAULT_TEMPLATE, Prompt, Section
from flowpo.run.result import OptimizeResult
from flowpo.run.runner import aoptimize, aresume, optimize, resume
from flowpo.tasks import Task, list_tasks, load_task, resolve_task, task_from_file
from flowpo.types import EvalResult, Example, ExampleResult

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TEMPLATE",
    "METHODS",
    "METRICS",
    "Budget",
    "ChatProgram",
    "Classifier",
    "ConfigError",
    "ConfigurableProgram",
    "DataError",
    "DataOptions",
    "Dataset",
    "EvalCache",
    "EvalConfig",
    "EvalResult",
    "Evaluator",
    "Example",
    "ExampleResult",
    "FlowpoError",
    "Judge",
    "Method",
    "ModelError",
    "OptimizeConfig",
    "OptimizeResult",
    "Prompt",
    "Section",
    "TargetLM",
    "Task",
    "__version__",
    "aoptimize",
    "aresume",
    "corpus_score",
    "create_builder",
    "create_graph",
    "get_method",
    "list_tasks",
    "load_target",
    "load_task",
    "optimize",
    "parse_spec",
    "resolve_task",
    "resume",
    "score_example",
    "task_from_file",
]
