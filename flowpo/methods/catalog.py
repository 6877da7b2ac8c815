"""The built-in methods: three graph methods and five baselines (benchmark order)."""

from __future__ import annotations

from flowpo.methods.base import Method, register

DEFAULT_METHOD = "promptflow"

PROMPTFLOW = register(
    Method(
        name="promptflow",
        description="PromptFlow's sectioned edits (reflect, select an operator, edit)",
        needs_llm=True,
        graph=True,
        edits=True,
    )
)
GFLOWPO = register(
    Method(
        name="gflowpo",
        description="GFlowPO's trained prompt-LM alone (the prompt is one instruction)",
        needs_llm=False,
        graph=True,
        samples=True,
    )
)
HYBRID = register(
    Method(
        name="hybrid",
        description="PromptFlow whose selector may also pick the 'gfn' sampler for the "
        "task section",
        needs_llm=True,
        graph=True,
        edits=True,
        samples=True,
    )
)


def _baseline(name: str, module: str, needs_llm: bool, text: str) -> Method:
    entry = f"flowpo.baselines.{module}:run_{name}"
    return register(
        Method(
            name=name,
            description=f"baseline, {text}",
            needs_llm=needs_llm,
            graph=False,
            entry=entry,
        )
    )


MANUAL = _baseline("manual", "simple", False, "the task's hand-written prompt, no search")
FEWSHOT = _baseline(
    "fewshot", "simple", False, "the manual prompt plus 4 random train demonstrations"
)
APE = _baseline(
    "ape", "ape", True, "APE (Zhou et al., 2023), instructions induced from demos, resampled"
)
OPRO = _baseline(
    "opro", "opro", True, "OPRO (Yang et al., 2024), the LM reads scored instructions, writes more"
)
PROTEGI = _baseline(
    "protegi", "protegi", True, "ProTeGi (Pryzant et al., 2023), textual gradients, beam, bandit"
)
