"""Sectioned prompts: parse Markdown (headers are sections), render, fingerprint."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from flowpo.errors import ConfigError, DataError
from flowpo.front_matter import front_matter_fields, split_front_matter

TEXT_SLOT = "{text}"
PROMPT_SLOT = "{prompt}"
DEFAULT_TEMPLATE = "{prompt} Input : {text} Output:"
"""The GFlowPO/StablePrompt target template."""

_HEADER = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_FROZEN = re.compile(r"\s*\((frozen)\)\s*$", re.IGNORECASE)
_ESCAPED = re.compile(r"^\\*#")
"""A text line that would read as a header: written with one more leading backslash."""
MAX_PROMPT_CHARS = 200_000
"""Longest prompt file read; a longer one is refused (it cannot fit any model's context)."""


def _escape(text: str) -> str:
    return "\n".join("\\" + ln if _ESCAPED.match(ln) else ln for ln in text.split("\n"))


def _unescape(line: str) -> str:
    return line[1:] if line.startswith("\\") and _ESCAPED.match(line[1:]) else line


def check_template(template: str, *, where: str = "template") -> str:
    """Return ``template`` if it has exactly one ``{text}`` slot, else raise."""
    if template.count(TEXT_SLOT) != 1:
        raise ConfigError(
            f"the template {template!r} must contain '{TEXT_SLOT}' exactly once",
            where=where,
            field="template",
            fix="write the template like '{prompt} Input : {text} Output:'",
        )
    if template.count(PROMPT_SLOT) > 1:
        raise ConfigError(
            f"the template {template!r} contains '{PROMPT_SLOT}' more than once",
            where=where,
            field="template",
            fix="keep one '{prompt}' slot (or none, for a fixed frame)",
        )
    return template


@dataclass(frozen=True)
class Section:
    """A named part of a prompt; a frozen section is never edited by operators."""

    name: str
    text: str
    frozen: bool = False


@dataclass(frozen=True)
class Prompt:
    """An ordered list of sections plus the template that frames every example.

    Attributes:
        sections: The prompt's sections, in order.
        template: Where the prompt and the example go; ``None`` means the task's.
        verbalizers: Label -> word overrides; ``None`` means the task's.
    """

    sections: tuple[Section, ...] = ()
    template: str | None = None
    verbalizers: dict[str, str] | None = field(default=None, hash=False)
    calibrate: bool = False
    """Apply contextual calibration to label-word scores (verbalizer mode)."""
    retrieve: int = 0
    """Demonstrations retrieved per input: its nearest labelled examples (0: none)."""

    @classmethod
    def from_text(cls, text: str, **kwargs: Any) -> Prompt:
        """Build a one-section prompt (section ``instruction``) from plain text."""
        return cls(sections=(Section("instruction", text.strip()),), **kwargs)

    @property
    def text(self) -> str:
        """Return the instruction text: the sections' texts joined by blank lines."""
        return "\n\n".join(s.text for s in self.sections if s.text.strip())

    def section(self, name: str) -> Section:
        """Return the section called ``name``."""
        for s in self.sections:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sections) or "none"
        raise KeyError(f"no section {name!r} in this prompt (sections: {known})")

    def with_section(self, name: str, text: str) -> Prompt:
        """Return a copy with section ``name``'s text replaced (appended if new)."""
        names = [s.name for s in self.sections]
        if name not in names:
            return replace(self, sections=(*self.sections, Section(name, text)))
        return replace(
            self,
            sections=tuple(replace(s, text=text) if s.name == name else s for s in self.sections),
        )

    def resolve_template(self, task_template: str) -> str:
        """Return the template in force: the prompt's own, else the task's."""
        return check_template(self.template or task_template)

    def split_render(self, task_template: str, demos: str = "") -> tuple[str, str]:
        """Split the rendered template around ``{text}`` into (prefix, suffix pattern).

        The prefix is shared by every example, so its key/value cache can be reused.
        Whitespace before ``{text}`` goes with the example, because BPE tokenizers
        attach a leading space to the next word. A retrieving prompt's ``demos`` (one
        input's retrieved demonstrations) follow its text, so its suffix starts after the
        text, whatever the demonstrations (none included: the content-free inputs).
        """
        template = self.resolve_template(task_template)
        head, tail = template.split(TEXT_SLOT)
        if self.retrieve or demos:
            before, slot, after = head.partition(PROMPT_SLOT)
            text = self.text if slot else ""
            if not slot:  # a fixed frame: the demonstrations go first
                before, after = "", ("\n\n" if demos else "") + head
            shared = (before + text).rstrip()
            body = "\n\n".join(t for t in (text, demos) if t.strip())
            head = before + body + after
            return shared, head[len(shared) :] + TEXT_SLOT + tail
        head = head.replace(PROMPT_SLOT, self.text)
        stripped = head.rstrip()
        return stripped, head[len(stripped) :] + TEXT_SLOT + tail

    def render(self, text: str, task_template: str, demos: str = "") -> str:
        """Return the full model input for one example's formatted text.

        Args:
            text: The example's formatted input.
            task_template: The task's frame (used when the prompt has none).
            demos: The example's retrieved demonstrations (a prompt with ``retrieve``;
                :class:`flowpo.evaluation.retrieval.DemoIndex` finds them).
        """
        prefix, suffix = self.split_render(task_template, demos)
        return prefix + suffix.replace(TEXT_SLOT, text)

    def to_langchain(self, task_template: str = DEFAULT_TEMPLATE, *, chat: bool = False) -> Any:
        """Return this prompt as a LangChain prompt template with one variable, ``text``.

        ``text`` is the example's formatted input. The default ``PromptTemplate`` formats
        to exactly the string the evaluator scores (:meth:`render`, frame included);
        ``chat=True`` gives a ``ChatPromptTemplate``: the instruction as the system
        message, the frame around ``{text}`` as the human message. Either carries
        ``metadata["flowpo"]``: the frame, the label words and the calibration flag. A
        prompt with ``retrieve`` has a second variable, ``demos``: the input's retrieved
        demonstrations, one per line (:meth:`flowpo.evaluation.retrieval.DemoIndex.demos`).

        Args:
            task_template: The frame when the prompt has none of its own.
            chat: Return a ``ChatPromptTemplate`` instead of a ``PromptTemplate``.
        """
        from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

        def esc(s: str) -> str:
            return s.replace("{", "{{").replace("}", "}}").replace("{{text}}", TEXT_SLOT)

        frame = self.resolve_template(task_template)
        meta = {
            "flowpo": {
                "frame": frame,
                "label_words": dict(self.verbalizers or {}),
                "calibrate": self.calibrate,
                "retrieve": self.retrieve,
            }
        }
        mark = "\x00demos\x00"
        if chat:
            human = esc(frame.replace(PROMPT_SLOT, "").strip())
            human = "{demos}\n\n" + human if self.retrieve else human
            messages = [("system", esc(self.text)), ("human", human)]
            chat_prompt = ChatPromptTemplate.from_messages(messages)
            chat_prompt.metadata = meta
            return chat_prompt
        prefix, pattern = self.split_render(task_template, mark if self.retrieve else "")
        body = prefix.replace("{", "{{").replace("}", "}}") + esc(pattern).replace(mark, "{demos}")
        return PromptTemplate.from_template(body, metadata=meta)

    def fingerprint(
        self, task_template: str | None = None, task_verbalizers: dict[str, str] | None = None
    ) -> str:
        """Return a content hash of everything that changes the model's input.

        The template and label words in force count, whether the prompt carries them or
        inherits them from the task, so a saved ``best_prompt.md`` (which spells both out)
        has the fingerprint of the prompt it was saved from. An empty section changes no
        input (the frame sweep's frame alone keeps its sections, emptied), so it does not
        count.
        """
        words = {**(task_verbalizers or {}), **(self.verbalizers or {})}
        payload = {
            "sections": [[s.name, s.text] for s in self.sections if s.text.strip()],
            "template": self.template or task_template,
            "verbalizers": words or None,
            **({"calibrate": True} if self.calibrate else {}),
            **({"retrieve": self.retrieve} if self.retrieve else {}),
        }
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def near_key(
        self, task_template: str | None = None, task_verbalizers: dict[str, str] | None = None
    ) -> str:
        """Return a hash of the model input up to whitespace: equal keys are near-duplicates.

        Unlike :meth:`fingerprint`, section names and runs of whitespace do not count, so
        a renamed section or a reflowed paragraph that gives the target the same words in
        the same order is recognised and not scored again.
        """
        words = {**(task_verbalizers or {}), **(self.verbalizers or {})}
        template = self.template or task_template or DEFAULT_TEMPLATE
        payload = {
            "input": " ".join(template.replace(PROMPT_SLOT, self.text).split()),
            "verbalizers": words or None,
            "calibrate": self.calibrate,
            **({"retrieve": self.retrieve} if self.retrieve else {}),
        }
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (graph state and ``best_prompt.json`` use it)."""
        return {
            "sections": [
                {"name": s.name, "text": s.text, "frozen": s.frozen} for s in self.sections
            ],
            "template": self.template,
            "verbalizers": dict(self.verbalizers) if self.verbalizers else None,
            "calibrate": self.calibrate,
            **({"retrieve": self.retrieve} if self.retrieve else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prompt:
        """Rebuild a prompt from :meth:`to_dict` output."""
        return cls(
            sections=tuple(
                Section(s["name"], s["text"], bool(s.get("frozen", False)))
                for s in data["sections"]
            ),
            template=data.get("template"),
            verbalizers=data.get("verbalizers"),
            calibrate=bool(data.get("calibrate", False)),
            retrieve=int(data.get("retrieve") or 0),
        )

    def to_markdown(self) -> str:
        """Render as Markdown: optional YAML front matter, then one header per section."""
        meta: dict[str, Any] = {}
        if self.template:
            meta["template"] = self.template
        if self.verbalizers:
            meta["verbalizers"] = dict(self.verbalizers)
        if self.calibrate:
            meta["calibrate"] = True
        if self.retrieve:
            meta["retrieve"] = self.retrieve
        out = []
        if meta:
            front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
            if yaml.safe_load(front) != meta:  # e.g. U+0085 read back as a line break
                front = yaml.safe_dump(meta, allow_unicode=False, sort_keys=False)
            out.append("---\n" + front + "---\n")
        for s in self.sections:
            mark = " (frozen)" if s.frozen else ""
            out.append(f"# {s.name}{mark}\n\n{_escape(s.text.strip())}\n")
        return "\n".join(out)

    @classmethod
    def from_markdown(cls, markdown: str, *, where: str = "prompt") -> Prompt:
        """Parse Markdown: YAML front matter (template, verbalizers), headers as sections.

        Text before the first header becomes a section named ``instruction``. A header
        ending in ``(frozen)`` marks its section frozen. :meth:`to_markdown` writes a text
        line starting with ``#`` with one more backslash in front; it is removed here.

        Raises:
            DataError: Bad front matter, or two sections with the same name (naming the line).
        """
        markdown = markdown.replace("\r\n", "\n").replace("\r", "\n")
        meta, body = split_front_matter(markdown, where)
        offset = markdown[: len(markdown) - len(body)].count("\n")
        sections: list[Section] = []
        name, frozen = "instruction", False
        lines: list[str] = []
        first_line: dict[str, int] = {}

        def close() -> None:
            text = "\n".join(lines).strip()
            if text:  # a header with no text adds no section
                sections.append(Section(name, text, frozen))

        for n, line in enumerate(body.split("\n"), start=offset + 1):
            m = _HEADER.match(line)
            if not m:
                lines.append(_unescape(line))
                continue
            close()
            title = m.group(2)
            frozen = bool(_FROZEN.search(title))
            name, lines = _FROZEN.sub("", title).strip(), []
            if name in first_line:
                raise DataError(
                    f"section {name!r} on line {n} was already defined on line {first_line[name]}",
                    where=f"{where}:{n}",
                    field=name,
                    fix="give every section header a distinct name, or merge the two",
                )
            first_line[name] = n
        close()
        template, verbalizers, retrieve = front_matter_fields(meta, where)
        if template is not None:
            check_template(template, where=where)
        return cls(
            sections=tuple(sections),
            calibrate=bool(meta.get("calibrate", False)),
            retrieve=retrieve,
            template=template,
            verbalizers=verbalizers,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Prompt:
        """Read a Markdown prompt file."""
        p = Path(path)
        if p.is_file() and p.stat().st_size > 4 * MAX_PROMPT_CHARS:
            raise DataError(
                f"the prompt file is {p.stat().st_size} bytes, more than any prompt can use",
                where=str(p),
                fix=f"keep the prompt under {MAX_PROMPT_CHARS} characters",
            )
        try:
            raw = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(
                "the prompt file does not exist",
                where=str(p),
                fix="check the path given to --prompt-file",
            ) from None
        except UnicodeDecodeError as e:
            raise DataError(
                f"the prompt file is not UTF-8 text (byte {e.start})",
                where=str(p),
                fix="save the file as UTF-8",
            ) from None
        except IsADirectoryError:
            raise DataError(
                "the prompt path is a directory",
                where=str(p),
                fix="give a Markdown file to --prompt-file",
            ) from None
        if len(raw) > MAX_PROMPT_CHARS:
            raise DataError(
                f"the prompt file holds {len(raw)} characters",
                where=str(p),
                fix=f"keep the prompt under {MAX_PROMPT_CHARS} characters",
            )
        return cls.from_markdown(raw, where=str(p))
