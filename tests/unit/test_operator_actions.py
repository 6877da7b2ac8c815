"""The operators' declarations, the action table derived from them, and the registry."""

import ast
import doctest
from pathlib import Path

import pytest

import flowpo.operators.actions as actions_module
from flowpo.errors import ConfigError
from flowpo.operators.actions import (
    GFN,
    SAMPLER_ACTIONS,
    bind,
    bound_sections,
    format_operators,
    row_owners,
)
from flowpo.operators.base import LLM, NEEDS, REGISTRY, Operator, register
from flowpo.operators.registry import FAMILIES, get_operator, operator_names

OPERATORS_DIR = Path(actions_module.__file__).parent

ROWS = ["task", "label: negative", "label: positive", "format", "examples", "steps"]
ROWS += ["frame", "label_words"]
"""The Q-table rows of the default SST-2 run with ``edit_format`` on."""
OPS = [
    "calibrate",
    "cot",
    "define_sort",
    "differential_evolution",
    "few_shot",
    "frame",
    "label_words",
    "merge",
    "rag",
    "refine",
    "reflection",
    "repeat_instructions",
    "rewrite",
    "self_consistency",
    "short_instruction",
    "gfn",
]

# What the selector's ``_bind`` returned before the operators declared their sections,
# for every (row, operator) pair it did not leave unchanged.
TEXT_ROW_BINDING = {
    "calibrate": ("label_words", "calibrate"),
    "cot": ("steps", "cot"),
    "few_shot": ("examples", "few_shot"),
    "frame": ("frame", "frame"),
    "label_words": ("label_words", "label_words"),
    "gfn": ("task", "gfn"),
}
"""On a section row, whatever the available operators (``gfn`` on ``task`` is unchanged)."""
EXPECTED_ALL_AVAILABLE = {
    **{
        (row, op): out
        for row in ("task", "label: negative", "label: positive", "format")
        for op, out in TEXT_ROW_BINDING.items()
    },
    ("examples", "calibrate"): ("label_words", "calibrate"),
    ("examples", "cot"): ("steps", "cot"),
    ("examples", "frame"): ("frame", "frame"),
    ("examples", "label_words"): ("label_words", "label_words"),
    ("examples", "gfn"): ("task", "gfn"),
    ("steps", "calibrate"): ("label_words", "calibrate"),
    ("steps", "few_shot"): ("examples", "few_shot"),
    ("steps", "frame"): ("frame", "frame"),
    ("steps", "label_words"): ("label_words", "label_words"),
    ("steps", "gfn"): ("task", "gfn"),
    ("frame", "calibrate"): ("frame", "frame"),
    ("frame", "cot"): ("frame", "frame"),
    ("frame", "define_sort"): ("frame", "frame"),
    ("frame", "differential_evolution"): ("frame", "frame"),
    ("frame", "few_shot"): ("frame", "frame"),
    ("frame", "label_words"): ("frame", "frame"),
    ("frame", "merge"): ("frame", "frame"),
    ("frame", "rag"): ("frame", "frame"),
    ("frame", "refine"): ("frame", "frame"),
    ("frame", "reflection"): ("frame", "frame"),
    ("frame", "repeat_instructions"): ("frame", "frame"),
    ("frame", "rewrite"): ("frame", "frame"),
    ("frame", "self_consistency"): ("frame", "frame"),
    ("frame", "short_instruction"): ("frame", "frame"),
    ("frame", "gfn"): ("frame", "frame"),
    ("label_words", "cot"): ("label_words", "label_words"),
    ("label_words", "define_sort"): ("label_words", "label_words"),
    ("label_words", "differential_evolution"): ("label_words", "label_words"),
    ("label_words", "few_shot"): ("label_words", "label_words"),
    ("label_words", "frame"): ("label_words", "label_words"),
    ("label_words", "merge"): ("label_words", "label_words"),
    ("label_words", "rag"): ("label_words", "label_words"),
    ("label_words", "refine"): ("label_words", "label_words"),
    ("label_words", "reflection"): ("label_words", "label_words"),
    ("label_words", "repeat_instructions"): ("label_words", "label_words"),
    ("label_words", "rewrite"): ("label_words", "label_words"),
    ("label_words", "self_consistency"): ("label_words", "label_words"),
    ("label_words", "short_instruction"): ("label_words", "label_words"),
    ("label_words", "gfn"): ("label_words", "label_words"),
}
"""Available: every operator and ``gfn`` (the hybrid method with ``edit_format``)."""
EXPECTED_WITHOUT_ROW_OWNERS = {
    **{
        (row, op): out
        for row in ("task", "label: negative", "label: positive", "format")
        for op, out in TEXT_ROW_BINDING.items()
    },
    ("examples", "calibrate"): ("label_words", "calibrate"),
    ("examples", "cot"): ("steps", "cot"),
    ("examples", "frame"): ("frame", "frame"),
    ("examples", "label_words"): ("label_words", "label_words"),
    ("examples", "gfn"): ("task", "gfn"),
    ("steps", "calibrate"): ("label_words", "calibrate"),
    ("steps", "few_shot"): ("examples", "few_shot"),
    ("steps", "frame"): ("frame", "frame"),
    ("steps", "label_words"): ("label_words", "label_words"),
    ("steps", "gfn"): ("task", "gfn"),
    ("frame", "calibrate"): ("label_words", "calibrate"),
    ("frame", "cot"): ("steps", "cot"),
    ("frame", "few_shot"): ("examples", "few_shot"),
    ("frame", "label_words"): ("label_words", "label_words"),
    ("frame", "gfn"): ("task", "gfn"),
    ("label_words", "cot"): ("steps", "cot"),
    ("label_words", "few_shot"): ("examples", "few_shot"),
    ("label_words", "frame"): ("frame", "frame"),
    ("label_words", "gfn"): ("task", "gfn"),
}
"""Available: every operator and ``gfn`` but ``frame`` and ``label_words``."""


def test_the_table_covers_every_registered_operator():
    assert sorted(OPS) == sorted([*operator_names(), GFN])


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (OPS, EXPECTED_ALL_AVAILABLE),
        ([o for o in OPS if o not in ("frame", "label_words")], EXPECTED_WITHOUT_ROW_OWNERS),
    ],
)
def test_bind_gives_the_selectors_former_actions(available, expected):
    for row in ROWS:
        for op in OPS:
            assert bind(row, op, available) == expected.get((row, op), (row, op)), (row, op)


def test_bind_redirects_only_to_an_available_owner():
    assert bind("frame", "refine", ["refine", "frame"]) == ("frame", "frame")
    assert bind("label_words", "refine", ["refine", "frame"]) == ("label_words", "refine")
    assert bind("label_words", "calibrate", ["calibrate", "label_words"]) == (
        "label_words",
        "calibrate",
    )
    assert bind("some section", "unknown", []) == ("some section", "unknown")


def test_derived_tables_match_the_former_constants():
    assert bound_sections() == {
        "few_shot": "examples",
        "cot": "steps",
        "gfn": "task",
        "frame": "frame",
        "label_words": "label_words",
        "calibrate": "label_words",
    }
    assert row_owners() == {"frame": "frame", "label_words": "label_words"}
    assert format_operators() == {
        "frame": "frame",
        "label_words": "label_words",
        "calibrate": "label_words",
    }
    assert SAMPLER_ACTIONS == {"gfn": "task"} and GFN not in REGISTRY


def test_every_operator_declares_known_needs():
    for name, cls in REGISTRY.items():
        assert cls.needs <= NEEDS and cls.uses <= NEEDS, name
        assert not cls.needs & cls.uses, name
        assert cls.needs_llm is (LLM in cls.needs), name
    llm_only = {n for n, c in REGISTRY.items() if LLM in c.needs}
    assert llm_only == {"refine", "rewrite", "reflection", "self_consistency"}
    assert REGISTRY["label_words"].needs == {"labels", "verbalizer"}
    assert REGISTRY["few_shot"].needs == {"demonstrations"}


def test_register_rejects_unknown_needs_and_name_clashes():
    class Psychic(Operator):
        name = "psychic"
        description = "Reads minds."
        needs = frozenset({"telepathy"})

        async def apply(self, prompt, section, ctx):
            raise NotImplementedError

    with pytest.raises(ValueError, match="telepathy"):
        register(Psychic)
    assert "psychic" not in REGISTRY

    class Impostor(Psychic):
        name = "refine"
        needs = frozenset()

    with pytest.raises(ValueError, match="registered twice"):
        register(Impostor)


def test_unknown_operator_names_the_known_ones():
    with pytest.raises(ConfigError) as e:
        get_operator("telepathy")
    assert e.value.field == "operators"
    assert "refine" in str(e.value) and "few_shot" in str(e.value)
    assert get_operator("cot").name == "cot"


def test_action_examples_run():
    failed, attempted = doctest.testmod(actions_module)
    assert attempted and failed == 0


def _imports(path: Path) -> set[str]:
    """Return every flowpo.operators module ``path`` imports, at any depth of the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "flowpo.operators":
                out |= {a.name for a in node.names}
            elif node.module.startswith("flowpo.operators."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out |= {
                a.name.split(".")[2] for a in node.names if a.name.startswith("flowpo.operators.")
            }
    return out


def test_no_import_circle_and_families_import_no_sibling():
    graph = {p.stem: _imports(p) for p in OPERATORS_DIR.glob("*.py") if p.stem != "__init__"}
    families = {m.__name__.rsplit(".", 1)[1] for m in FAMILIES}
    assert families <= set(graph)
    for family in families:
        assert graph[family] <= {"base", "common", "llm"}, family
    assert graph["base"] == set() and graph["common"] == set()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()) - seen:
            if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []
