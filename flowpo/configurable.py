"""Programs whose prompts are configurable fields: any LangChain runnable or LangGraph graph.

The idiomatic way to expose a prompt of a runnable is a configurable field
(``prompt.configurable_fields(template=ConfigurableField(id="classify"))``); a LangGraph
node reads ``config["configurable"]["classify"]``. flowpo optimizes every named prompt at
once: each is one section of the candidate (``prompt: <id>``), edited like any section,
and the program runs with ``config={"configurable": {<id>: <section text>, ...}}``.

``flowpo.optimize(program=ConfigurableProgram(graph, prompts={"classify": "...",
"answer": "..."}, input_key="question", output_key="answer"), examples=..., metric=...)``;
a runnable whose configurable string fields carry defaults needs no ``prompts``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flowpo.models.base import TargetLM
from flowpo.prompt import Prompt, Section

SECTION_PREFIX = "prompt: "


class ConfigurableProgram:
    """A runnable plus the configurable fields that hold its prompts."""

    def __init__(
        self,
        runnable: Any,
        prompts: dict[str, str] | None = None,
        *,
        input_key: str | None = None,
        output_key: str | None = None,
    ) -> None:
        """Bind the runnable and its prompts' ids and start texts.

        Args:
            runnable: Any LangChain ``Runnable`` or compiled LangGraph graph.
            prompts: Field id -> start text; default: the runnable's configurable string
                fields with their defaults (``runnable.config_specs``).
            input_key: The input dict's key for an example's input (``None``: the input
                itself is passed). An input with several fields is passed as a dict with
                one key per field whatever ``input_key`` says.
            output_key: The output dict's key holding the answer (default ``answer`` or
                ``output``, else the output itself).

        Raises:
            ValueError: No prompt to optimize.
        """
        if prompts is None:
            prompts = {
                s.id: s.default
                for s in getattr(runnable, "config_specs", [])
                if isinstance(s.default, str) and s.default.strip()
            }
        if not prompts:
            raise ValueError(
                "the program exposes no prompt. Fix: give prompts={'<field id>': '<start "
                "text>'} or make its prompts configurable fields with defaults"
            )
        self.runnable, self.prompts = runnable, dict(prompts)
        self.input_key, self.output_key = input_key, output_key
        ident = type(runnable).__name__ + repr(sorted(self.prompts)) + repr(input_key)
        self.fingerprint = hashlib.sha1(ident.encode()).hexdigest()[:12]

    def start_prompt(self) -> Prompt:
        """Return the start prompt: one section per configurable prompt."""
        return Prompt(tuple(Section(SECTION_PREFIX + k, v) for k, v in self.prompts.items()))

    def values(self, prompt: Prompt) -> dict[str, str]:
        """Return each configurable prompt's text in a candidate.

        A prompt is its own section (``prompt: <id>``; a dropped one keeps its start
        text) followed by the sections the operators added outside any prompt's own
        (steps, examples, a reminder): those are shared by every prompt.
        """
        own = {
            s.name.removeprefix(SECTION_PREFIX): s.text
            for s in prompt.sections
            if s.name.startswith(SECTION_PREFIX)
        }
        shared = [s.text for s in prompt.sections if not s.name.startswith(SECTION_PREFIX)]
        return {k: "\n\n".join([own.get(k, v), *shared]) for k, v in self.prompts.items()}

    def answer(self, output: Any) -> str:
        """Return the answer text of one program output."""
        if isinstance(output, dict):
            for key in (self.output_key, "answer", "output"):
                if key is not None and key in output:
                    output = output[key]
                    break
        return str(getattr(output, "content", output))

    def target(self) -> ConfigurableTarget:
        """Return this program as the evaluator's target."""
        return ConfigurableTarget(self)


class OutputTarget(TargetLM):
    """A program as the evaluator's target: generation only, its outputs kept whole.

    Subclasses run the program in ``generate``; label-word scoring is refused, since a
    program is judged by a metric on what it outputs.
    """

    raw_output = True
    """The evaluator gives the metric the whole (stripped) output, not its first line."""

    def __init__(self, program: Any) -> None:
        """Wrap ``program``; its id (for the result cache) is its fingerprint."""
        super().__init__()
        self.program = program
        self.model_id = f"program:{program.fingerprint}"

    def check_words(self, words: list[str]) -> None:
        """Refuse label-word scoring: a program is scored on its outputs."""
        from flowpo.errors import ModelError

        raise ModelError(
            "a program has no label-word scores",
            field="mode",
            fix="score it in generation mode (the default for programs) with a metric",
        )

    async def score_labels(
        self, prefix: str, texts: list[str], words: list[str]
    ) -> list[list[float]]:
        """Refuse label-word scoring (see :meth:`check_words`)."""
        self.check_words(words)
        return []


class ConfigurableTarget(OutputTarget):
    """A configurable program as the evaluator's target (generation, whole outputs)."""

    program: ConfigurableProgram

    async def generate(
        self, prefix: str, texts: list[str], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Run with the start prompts (the evaluator calls :meth:`generate_for`)."""
        return await self.generate_for(self.program.start_prompt(), prefix, texts, [])

    async def generate_for(
        self, prompt: Prompt, prefix: str, texts: list[str], examples: list[Any]
    ) -> list[str]:
        """Run the program on each input with the candidate's prompts as configuration.

        An example whose input has several fields (a dict, e.g. ``--input-field
        question,context``) is passed whole, one key per field; a one-field input is passed
        as is, or under ``input_key``.
        """
        key = self.program.input_key
        fields = [e.input if isinstance(e.input, dict) else None for e in examples]
        inputs = [
            dict(f) if f is not None else {key: t.lstrip()} if key else t.lstrip()
            for f, t in zip(fields or [None] * len(texts), texts, strict=True)
        ]
        config = {"configurable": self.program.values(prompt)}
        outs = await self.program.runnable.abatch(inputs, config=config)
        self.stats.calls += 1
        self.stats.examples += len(texts)
        return [self.program.answer(o) for o in outs]
