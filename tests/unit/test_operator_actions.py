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
    bound_sections,
    format_operators,
    run_offers,
    valid_cells,
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

DEFAULT_HAVE = run_offers(
    rows=ROWS,
    classification=True,
    mode="verbalizer",
    label_scores=True,
    llm=True,
    demonstrations=True,
    memory=False,
    reflection=True,
)
"""What the default SST-2 run offers (embedded target, operator LM, no memory)."""
FREE = [
    "define_sort",
    "differential_evolution",
    "rag",
    "refine",
    "reflection",
    "repeat_instructions",
    "rewrite",
    "self_consistency",
    "short_instruction",
]
"""Operators that edit whichever text section was drawn."""
TEXT_ROWS = ["task", "label: negative", "label: positive", "format"]


def test_the_table_covers_every_registered_operator():
    assert sorted(OPS) == sorted([*operator_names(), GFN])


def test_default_table_holds_exactly_the_cells_an_operator_can_use():
    cells = valid_cells(ROWS, OPS, DEFAULT_HAVE)
    expected = {(row, op) for row in TEXT_ROWS for op in FREE}
    expected |= {("label: negative", "merge"), ("label: positive", "merge")}
    expected |= {("examples", "few_shot"), ("frame", "frame"), ("task", "gfn")}
    expected |= {("label_words", "label_words"), ("label_words", "calibrate")}
    assert set(cells) == expected
    assert len(cells) == len(set(cells)) == 4 * 9 + 2 + 3 + 2


def test_needs_remove_cells_the_run_cannot_serve():
    generate = run_offers(
        rows=["task", "format", "examples", "steps"], classification=False, mode="generate",
        label_scores=False, llm=False, demonstrations=True, memory=False, reflection=False,
    )
    cells = set(valid_cells(["task", "format", "examples", "steps"], OPS, generate))
    assert ("steps", "cot") in cells  # generated text: reasoning is read
    assert not {c for c in cells if c[1] in ("refine", "rewrite", "reflection")}  # no LLM
    assert not {c for c in cells if c[1] in ("label_words", "calibrate", "merge", "frame")} - {
        ("frame", "frame")
    }
    assert ("steps", "cot") not in set(valid_cells(ROWS, OPS, DEFAULT_HAVE))  # verbalizer


def test_frozen_or_missing_rows_give_no_cells():
    assert valid_cells(["task"], ["few_shot", "frame", "refine"], DEFAULT_HAVE) == [
        ("task", "refine")
    ]


def test_derived_tables_match_the_former_constants():
    assert bound_sections() == {
        "few_shot": "examples",
        "cot": "steps",
        "gfn": "task",
        "frame": "frame",
        "label_words": "label_words",
        "calibrate": "label_words",
    }
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
