"""LangChain chat programs: the optimized prompt is the system message of a chat prompt.

A program is ``ChatPromptTemplate([("system", ...), ("human", "{question}")]) | chat model
[| output parser]``: any LangChain ``BaseChatModel`` (the embedded
:class:`~flowpo.models.chat.LocalChatModel`, ``ChatOpenAI``, ...), an optional parser. flowpo
starts from the system message's text, edits it like any prompt, and scores each
candidate by running the chain with that system message on the examples and applying the
run's metric to the outputs. A template with one variable gets each example's input; one
with several (``{question}`` and ``{context}``) gets each from the example's field of that
name (or the field ``fields=`` maps it to), and the run reads those fields from the data.

``flowpo.optimize(program=chain, examples=..., metric=fn)`` takes the chain object (it is
registered for the run, as a metric callable is); ``flowpo optimize --program
module:attr`` imports it from your code.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path
from typing import Any

from flowpo.configurable import ConfigurableProgram, OutputTarget
from flowpo.errors import ConfigError, DataError, ModelError
from flowpo.prompt import Prompt
from flowpo.types import Example

PYTHON_PREFIX = "python:"
PROGRAM_TEMPLATE = "{prompt}{text}"
"""The frame of a program run: the prompt is the system text, the example the input."""
_FIX = "give ChatPromptTemplate([('system', ...), ('human', '{question}')]) | chat_model"


def _esc(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class ChatProgram:
    """A chain whose first step is a ``ChatPromptTemplate``; its system message is optimized."""

    def __init__(self, runnable: Any, fields: dict[str, str] | None = None) -> None:
        """Split ``runnable`` into its chat prompt and the rest of the chain.

        Args:
            runnable: ``ChatPromptTemplate | chat model [| parser]``.
            fields: Template variable -> the example field that fills it. Default: a
                template with one variable gets the example's input; with several, each
                variable reads the field of its own name.

        Raises:
            TypeError: It does not start with a ``ChatPromptTemplate``.
            ValueError: The system message has variables, the prompt has none, or
                ``fields`` names a variable the prompt does not have.
        """
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_core.prompts.chat import SystemMessagePromptTemplate
        from langchain_core.runnables import RunnableSequence

        first, rest = runnable, None
        if isinstance(runnable, RunnableSequence):
            first, rest = runnable.first, runnable.steps[1:]
        if not isinstance(first, ChatPromptTemplate):
            raise TypeError(f"the program starts with {type(first).__name__}. Fix: {_FIX}")
        self.prompt, self.rest = first, rest
        index = next(
            (i for i, m in enumerate(first.messages) if isinstance(m, SystemMessagePromptTemplate)),
            None,
        )
        self.system_index = index
        system: Any = first.messages[index] if index is not None else None
        if system is not None and system.input_variables:
            raise ValueError(
                f"the system message has variables {system.input_variables}; flowpo "
                "optimizes a literal system message. Fix: move them to the human message"
            )
        self.variables: list[str] = list(first.input_variables)
        self.fields = self._fields(fields)
        self.system_text = str(system.format().content) if system is not None else ""
        rest_id = [repr(m) for i, m in enumerate(first.messages) if i != index]
        rest_id += [type(s).__name__ + repr(getattr(s, "model_id", "")) for s in rest or []]
        rest_id.append(repr(sorted((self.fields or {}).items())))
        self.fingerprint = hashlib.sha1("\n".join(rest_id).encode()).hexdigest()[:12]

    def _fields(self, fields: dict[str, str] | None) -> dict[str, str] | None:
        """Return variable -> field (``None``: the one variable takes the example's input)."""
        if not self.variables:
            raise ValueError(
                "the chat prompt has no input variable for the example. Fix: " + _FIX
            )
        unknown = sorted(set(fields or {}) - set(self.variables))
        if unknown:
            raise ValueError(
                f"fields= names {unknown}, which the chat prompt does not have (its variables "
                f"are {self.variables}). Fix: map only those variables to example fields"
            )
        if fields is None and len(self.variables) == 1:
            return None
        return {v: (fields or {}).get(v, v) for v in self.variables}

    def example_fields(self) -> list[str] | None:
        """Return the example fields the template reads (``None``: just the input)."""
        return list(dict.fromkeys(self.fields.values())) if self.fields else None

    def inputs(self, example: Example, text: str) -> dict[str, Any]:
        """Return the template's variables for ``example`` (``text``: its formatted input).

        Raises:
            DataError: A variable whose field the example does not have.
        """
        if self.fields is None:
            return {self.variables[0]: text.lstrip()}
        given = example.input
        if not isinstance(given, dict):  # one input field: the one field the template reads
            one = self.example_fields() or []
            given = {one[0] if len(one) == 1 else "input": given}
        missing = [(v, f) for v, f in self.fields.items() if f not in given]
        if missing:
            var, name = missing[0]
            raise DataError(
                f"the template variable {{{var}}} reads the field {name!r}, which example "
                f"{example.id!r} does not have (its input fields: {sorted(given)})",
                field=name,
                fix=f"pass input_field={','.join(self.example_fields() or [])} with data that "
                f"has those fields, or map the variable: ChatProgram(chain, fields={{{var!r}: "
                "'<your field>'})",
            )
        return {v: given[f] for v, f in self.fields.items()}

    def chat_prompt(self, system_text: str) -> Any:
        """Return the chat prompt with ``system_text`` as its system message."""
        from langchain_core.prompts import ChatPromptTemplate

        messages: list[Any] = list(self.prompt.messages)
        system = ("system", _esc(system_text))
        if self.system_index is None:
            messages.insert(0, system)
        else:
            messages[self.system_index] = system
        return ChatPromptTemplate.from_messages(messages)

    def target(self) -> ProgramTarget:
        """Return this program as the evaluator's target."""
        return ProgramTarget(self)

    def with_system(self, system_text: str) -> Any:
        """Return the whole chain with ``system_text`` as the system message."""
        from langchain_core.runnables import RunnableSequence

        prompt = self.chat_prompt(system_text)
        return RunnableSequence(prompt, *self.rest) if self.rest else prompt


class ProgramTarget(OutputTarget):
    """A chat program as the evaluator's target: generation only, outputs kept whole."""

    program: ChatProgram

    async def generate(
        self, prefix: str, texts: list[str], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Run the chain with ``prefix`` as system message on each input text (one batch).

        A template with several variables needs the examples: see :meth:`generate_for`.
        """
        if self.program.fields is not None:
            raise ModelError(
                f"the program's template has the variables {self.program.variables}",
                field="program",
                fix="score it through flowpo.Evaluator, which gives each example's fields",
            )
        return await self._run(prefix, [self.program.inputs(Example("", t, ""), t) for t in texts])

    async def generate_for(
        self, prompt: Prompt, prefix: str, texts: list[str], examples: list[Example]
    ) -> list[str]:
        """Run the chain with ``prefix`` as system message, each example filling the template."""
        inputs = [self.program.inputs(ex, t) for ex, t in zip(examples, texts, strict=True)]
        return await self._run(prefix, inputs)

    async def _run(self, prefix: str, inputs: list[dict[str, Any]]) -> list[str]:
        chain = self.program.with_system(prefix)
        outs = await chain.abatch(inputs)
        self.stats.calls += 1
        self.stats.examples += len(inputs)
        return [str(getattr(o, "content", o)) for o in outs]


Program = ChatProgram | ConfigurableProgram


def as_program(obj: Any) -> Program:
    """Return ``obj`` as a program: a chat chain, or a runnable with configurable prompts.

    Raises:
        TypeError: A runnable that neither starts with a chat prompt nor exposes prompts.
        ValueError: A chat chain whose prompt does not fit (see :class:`ChatProgram`).
    """
    if isinstance(obj, ChatProgram | ConfigurableProgram):
        return obj
    try:
        return ChatProgram(obj)
    except TypeError as not_chat:  # not a chat chain: its prompts must be configurable fields
        try:
            return ConfigurableProgram(obj)
        except ValueError as no_prompts:
            raise TypeError(f"{not_chat}. Or: {no_prompts}") from None


_REGISTERED: dict[str, Program] = {}


def register_program(run_dir: str | Path, program: Program) -> None:
    """Make ``program`` the program of the run in ``run_dir`` for this process."""
    _REGISTERED[str(Path(run_dir).resolve())] = program


def load_program(spec: str, run_dir: str | Path) -> Program:
    """Return the program a config names: ``module:attr`` or a registered object.

    Raises:
        ConfigError: A ``python:`` program not given again (a resume), or a bad import.
    """
    if spec.startswith(PYTHON_PREFIX):
        found = _REGISTERED.get(str(Path(run_dir).resolve()))
        if found is None:
            raise ConfigError(
                f"the run's program is the Python object {spec.removeprefix(PYTHON_PREFIX)!r}, "
                "which config.yaml cannot hold",
                where=str(run_dir),
                field="program",
                fix=f"resume it from Python: flowpo.resume({str(run_dir)!r}, program=<chain>)",
            )
        return found
    module, _, attr = spec.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # a module of the user's project
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(
            f"cannot import the program {spec!r}: {e}",
            field="program",
            fix="give module:attribute of a chain importable from the working directory",
        ) from None
    return as_program(obj)
