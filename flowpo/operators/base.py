"""The operator protocol, its context, the registry it fills, and output validation.

An operator edits one section of a prompt (PromptFlow §Operator) and returns new
candidate prompts. LLM output is extracted robustly and rejected when it is empty,
unchanged, too long, or would break the template: a rejection is a failed action,
never a crash and never a corrupted prompt.

Each operator class declares what it edits (``writes``) and what it needs
(``needs``, ``uses``); :mod:`flowpo.operators.actions` derives the selector's action
table from these declarations. This module imports no operator family: the families
import it, and :mod:`flowpo.operators.registry` imports them all.
"""

from __future__ import annotations

import random
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel

from flowpo.prompt import PROMPT_SLOT, TEXT_SLOT, Prompt
from flowpo.search.replies import reply_reason
from flowpo.tasks.task import Task
from flowpo.types import Candidate, Example

TASK = "task"
"""The task-description section."""
EXAMPLES = "examples"
"""The few-shot demonstrations section."""
FORMAT = "format"
"""The output-format section."""
STEPS = "steps"
"""The step-by-step reasoning section (CoT)."""
FRAME = "frame"
"""The input/output frame: the template around ``{text}`` (a prompt attribute)."""
LABEL_WORDS = "label_words"
"""The label words scored in verbalizer mode (a prompt attribute)."""
LABEL_PREFIX = "label: "
"""Prefix of a per-label definition section, e.g. ``label: positive``."""
PROMPT_PARTS = frozenset({FRAME, LABEL_WORDS})
"""Q-table rows that are prompt attributes, not sections (edited by format operators)."""

LLM = "llm"
"""Need: an operator LM (``OperatorContext.llm``)."""
LABELS = "labels"
"""Need: a classification task (labels and their words)."""
VERBALIZER = "verbalizer"
"""Need: a local target whose next-token scores of label words can be read."""
DEMONSTRATIONS = "demonstrations"
"""Need: examples to draw demonstrations from (``pool``, else ``train``)."""
BEAM = "beam"
"""Need: other scored prompts in the beam."""
HISTORY = "history"
"""Need: the run's evaluated candidates (``history``)."""
MEMORY = "memory"
"""Need: the experience memory (``retrieve``)."""
BAD_CASES = "bad_cases"
"""Need: wrong predictions of the best prompt (``bad_cases``)."""
REFLECTION = "reflection"
"""Need: the reflected reasons of the best prompt's bad cases (``reflection``)."""
GENERATION = "generation"
"""Need: a task scored on generated text (not on label-word scores), so reasoning is read."""
LABEL_SECTIONS = "label_sections"
"""Need: per-label definition sections in the prompt (``label: <name>`` rows)."""
NEEDS = frozenset(
    {
        LLM,
        LABELS,
        VERBALIZER,
        GENERATION,
        DEMONSTRATIONS,
        BEAM,
        HISTORY,
        MEMORY,
        BAD_CASES,
        REFLECTION,
        LABEL_SECTIONS,
    }
)
"""Every value ``Operator.needs`` and ``Operator.uses`` may hold."""


def label_section(label: str) -> str:
    """Return the name of the definition section of ``label``."""
    return f"{LABEL_PREFIX}{label}"


@dataclass(frozen=True)
class BadCase:
    """A wrong prediction of the current best prompt (reflection input)."""

    example: Example
    text: str
    """The example's formatted input."""
    prediction: Any
    target: Any
    feedback: str | None = None
    """A Python metric's feedback on the prediction, if it gave any."""


@dataclass
class Reflection:
    """Why the best prompt failed: one reason per bad case, and their summary."""

    reasons: list[str] = field(default_factory=list)
    summary: str = ""


Retriever = Callable[[str, int], list[tuple[str, float]]]
"""(query, k) -> [(section text, score)] from past high scorers."""


@dataclass
class OperatorContext:
    """Everything an operator may use besides the prompt it edits."""

    task: Task
    llm: BaseChatModel | None = None
    """The operator LM (``None``: only operators that need no LLM can run)."""
    rng: random.Random = field(default_factory=random.Random)
    train: list[Example] = field(default_factory=list)
    """The reward set the prompt is scored on."""
    pool: list[Example] = field(default_factory=list)
    """Where demonstrations come from (disjoint from ``train`` when the task has a pool)."""
    beam: list[Candidate] = field(default_factory=list)
    """Evaluated candidates kept this epoch, best first."""
    history: list[Candidate] = field(default_factory=list)
    """Every evaluated candidate of the run (the RAG operator's store before memory)."""
    bad_cases: list[BadCase] = field(default_factory=list)
    reflection: Reflection | None = None
    retrieve: Retriever | None = None
    """Experience-memory search, when a memory is attached."""
    max_section_chars: int = 1500
    max_examples_chars: int = 4000
    n_drafts: int = 3
    """Drafts for Self-Consistency."""
    n_shots: int = 4
    """Demonstrations the Few-Shot operator puts in."""
    nearest: int = 0
    """Demonstrations a retrieving prompt fetches per input (0: retrieval is not offered)."""
    target: Any = None
    """The target model, for operators that search its cached scores (label words)."""
    soft_weight: float = 0.5
    """Weight of the soft score in searches that rank choices themselves."""
    label_embed: Callable[[Sequence[str]], Any] | None = None
    """Embeds words to keep label-word candidates related to their label (``None``: free)."""


@dataclass
class OperatorResult:
    """New prompts from one operator application, and why any draft was rejected."""

    prompts: list[Prompt] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    llm_calls: int = 0

    @property
    def failed(self) -> bool:
        """Return True when the action produced no usable prompt."""
        return not self.prompts


class Operator(ABC):
    """Edit one section of a prompt.

    Subclasses declare, besides ``name`` and ``description``:

    Attributes:
        writes: The one section or prompt part the operator always edits, whichever
            section was drawn (the action is bound to it); ``None`` when the drawn
            section steers the edit.
        needs: What the operator cannot produce a prompt without (values of ``NEEDS``).
        uses: What the operator uses when available but can do without.
        needs_llm: Whether ``needs`` holds ``"llm"`` (derived, do not set).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    writes: ClassVar[str | None] = None
    needs: ClassVar[frozenset[str]] = frozenset()
    uses: ClassVar[frozenset[str]] = frozenset()
    needs_llm: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Derive ``needs_llm`` from the subclass's ``needs``."""
        super().__init_subclass__(**kwargs)
        cls.needs_llm = LLM in cls.needs

    @abstractmethod
    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return new prompts made by editing ``section`` of ``prompt``."""


REGISTRY: dict[str, type[Operator]] = {}
"""Operator classes by name; filled by ``@register`` when a family module is imported.

Look operators up through :mod:`flowpo.operators.registry`, which imports every family.
"""


def register(cls: type[Operator]) -> type[Operator]:
    """Add an operator class to the registry under its ``name`` (a class decorator).

    Raises:
        ValueError: If another class has the name, or ``needs``/``uses`` hold a value
            not in ``NEEDS``.
    """
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"operator name {cls.name!r} is registered twice")
    unknown = (cls.needs | cls.uses) - NEEDS
    if unknown:
        raise ValueError(
            f"operator {cls.name!r} declares unknown needs {sorted(unknown)}; "
            f"use some of: {', '.join(sorted(NEEDS))}"
        )
    REGISTRY[cls.name] = cls
    return cls


_FENCE = re.compile(r"^```[a-zA-Z]*\n(.*?)\n```$", re.DOTALL)
_CHATTER = re.compile(r"^(sure|here is|here's|certainly|okay|ok)\b[^\n]*:\s*\n", re.IGNORECASE)
_LABEL = re.compile(
    r"^(new|improved|revised|rewritten)?\s*(section|text|instruction)\s*:\s*", re.IGNORECASE
)


def extract_text(raw: str) -> str:
    """Pull the section text out of a chat answer: drop fences, chatter and label lines."""
    text = raw.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    text = _CHATTER.sub("", text).strip()
    text = _LABEL.sub("", text).strip()
    return text.strip().strip('"').strip()


_MARKUP = re.compile(
    r"</?(pre|code|div|span|p|br|html|body|ul|li|table|tr|td|h[1-6])\b[^>]*>", re.IGNORECASE
)


def garbage_reason(text: str, *, prose: bool = False) -> str | None:
    """Return why ``text`` is not text a prompt can hold, or ``None`` if it may be.

    Control characters and U+FFFD (bytes that were not valid text) mean broken output.
    With ``prose`` (an LLM's instruction text, not data), text of 20 or more characters
    that is mostly neither letters nor spaces is rejected too, and so are HTML markup, a
    markdown code fence (the LM's commentary around an answer, e.g. "The current version
    has a bug: ```...```") and text whose lines mostly repeat (a small LM's degenerate
    loops).
    """
    if "\ufffd" in text or any(
        unicodedata.category(c) == "Cc" and c not in "\n\t\r" for c in text
    ):
        return "output is not text (control characters or undecodable bytes)"
    stripped = "".join(text.split())
    if prose and len(stripped) >= 20:
        letters = sum(c.isalpha() for c in stripped)
        if letters / len(stripped) < 0.4:
            return "output is mostly symbols, not words"
    if prose and _MARKUP.search(text):
        return "output is markup (HTML tags), not instructions"
    if prose and "```" in text:  # what is left around a fenced answer is the LM's chatter
        return "output holds a fenced block (an answer wrapped in commentary)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if prose and len(lines) >= 3 and len(set(lines)) <= len(lines) // 2:
        return "output repeats the same lines"
    return None


def check_section(old: Prompt, section: str, new_text: str, ctx: OperatorContext) -> str | None:
    """Return why ``new_text`` cannot replace ``section`` of ``old``, or ``None`` if it can."""
    if not new_text.strip():
        return "empty output"
    garbage = garbage_reason(new_text, prose=section != EXAMPLES)  # demonstrations are data
    if garbage:
        return garbage
    if TEXT_SLOT in new_text or PROMPT_SLOT in new_text:
        return "output contains a template slot ({text} or {prompt})"
    if section != EXAMPLES:
        own = (old.verbalizers or {}).values()
        reply = reply_reason(new_text, [*ctx.task.labels, *ctx.task.verbalizers.values(), *own])
        if reply:
            return reply
    limit = ctx.max_examples_chars if section == EXAMPLES else ctx.max_section_chars
    if len(new_text) > limit:
        return f"output too long ({len(new_text)} > {limit} characters)"
    current = next((s.text for s in old.sections if s.name == section), None)
    if current is not None and normalize_text(current) == normalize_text(new_text):
        return "output unchanged"
    if any(s.name == section and s.frozen for s in old.sections):
        return f"section {section!r} is frozen"
    return None


def normalize_text(text: str) -> str:
    """Return ``text`` lower-cased with whitespace collapsed (for "same text?" checks)."""
    return " ".join(text.split()).lower()


def replace_section(
    old: Prompt, section: str, new_text: str, ctx: OperatorContext, result: OperatorResult
) -> None:
    """Validate ``new_text`` and, if it passes, add the edited prompt to ``result``."""
    reason = check_section(old, section, new_text, ctx)
    if reason:
        result.rejected.append(reason)
        return
    result.prompts.append(old.with_section(section, new_text.strip()))


def editable_sections(prompt: Prompt) -> list[str]:
    """Return the names of the sections operators may edit (not frozen)."""
    return [s.name for s in prompt.sections if not s.frozen]
