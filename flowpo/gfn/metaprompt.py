"""The GFlowPO meta-prompt M: demonstrations, optional reference instructions (DMU)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowpo.errors import ModelError

INTRO = (
    "I gave a friend an instruction and {n} inputs. The friend read the instruction and "
    "wrote an output for every one of the inputs. Here are the input-output pairs:"
)
REFERENCES = "Here are some reference instructions:"
PREFILL = "The Instruction is:"
"""The assistant turn starts with this; the sampled instruction follows after a space."""


def meta_messages(demos: Sequence[tuple[str, str]], references: Sequence[str] = ()) -> str:
    """Return the user turn of M: intro, input/output pairs, then reference instructions."""
    lines = [INTRO.format(n=len(demos)), ""]
    for text, output in demos:
        lines += [f"Input: {text}", f"Output: {output}", ""]
    if references:
        lines.append(REFERENCES)
        lines += [f"{i}. {ref}" for i, ref in enumerate(references, 1)]
        lines.append("")
    lines.append("What was the instruction? Write only the instruction.")
    return "\n".join(lines)


def render(tokenizer: Any, user: str, *, where: str = "prompt-LM") -> str:
    """Wrap ``user`` in the chat template and pre-fill the assistant turn with PREFILL."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            "the prompt-LM's tokenizer has no chat template",
            where=where,
            field="gfn_model",
            fix="use an instruct/chat model (e.g. the embedded smollm2-135m)",
        )
    head = tokenizer.apply_chat_template(
        [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
    )
    return str(head) + PREFILL
