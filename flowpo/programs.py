"""LangChain chat programs: the optimized prompt is the system message of a chat prompt.

A program is ``ChatPromptTemplate([("system", ...), ("human", "{question}")]) | chat model
[| output parser]``: any LangChain ``BaseChatModel`` (the embedded
:class:`~flowpo.models.chat.LocalChatModel`, ``ChatOpenAI``, ...), an optional parser. flowpo
starts from the system message's text, edits it like any prompt, and scores each
candidate by running the chain with that system message on the examples (their input
fills the template's one variable) and applying the run's metric to the outputs.

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
from flowpo.errors import ConfigError

PYTHON_PREFIX = "python:"
PROGRAM_TEMPLATE = "{prompt}{text}"
"""The frame of a program run: the prompt is the system text, the example the input."""
_FIX = "give ChatPromptTemplate([('system', ...), ('human', '{question}')]) | chat_model"


def _esc(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class ChatProgram:
    """A chain whose first step is a ``ChatPromptTemplate``; its system message is optimized."""

    def __init__(self, runnable: Any) -> None:
        """Split ``runnable`` into its chat prompt and the rest of the chain.

        Raises:
            TypeError: It does not start with a ``ChatPromptTemplate``.
            ValueError: The system message has variables, or the prompt has not exactly
                one input variable (the example's input).
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
        if len(first.input_variables) != 1:
            raise ValueError(
                f"the chat prompt has variables {first.input_variables}; a program takes "
                "exactly one, filled with each example's input. Fix: " + _FIX
            )
        self.variable = first.input_variables[0]
        self.system_text = str(system.format().content) if system is not None else ""
        rest_id = [repr(m) for i, m in enumerate(first.messages) if i != index]
        rest_id += [type(s).__name__ + repr(getattr(s, "model_id", "")) for s in rest or []]
        self.fingerprint = hashlib.sha1("\n".join(rest_id).encode()).hexdigest()[:12]

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
        """Run the chain with ``prefix`` as system message on each input (one batch)."""
        chain = self.program.with_system(prefix)
        outs = await chain.abatch([{self.program.variable: t.lstrip()} for t in texts])
        self.stats.calls += 1
        self.stats.examples += len(texts)
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
