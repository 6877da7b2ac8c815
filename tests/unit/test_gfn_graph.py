"""How the GFlowPO methods are wired into the graph (routers, selector binding, config)."""

import pytest

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError
from flowpo.graphs.optimizer import after_evaluate, after_sample, builder
from flowpo.operators.actions import valid_cells


def test_gflowpo_loops_evaluate_sample_and_others_keep_their_edits():
    assert after_evaluate({"method": "gflowpo"}) == "sample"
    assert after_evaluate({"method": "hybrid"}) == "reflect"
    assert after_evaluate({"method": "promptflow"}) == "reflect"
    assert after_evaluate({"method": "gflowpo", "stop_reason": "max_epochs"}) == "finalize"
    assert after_sample({"method": "gflowpo"}) == "evaluate"
    assert after_sample({"method": "hybrid"}) == "edit"
    assert after_sample({}) == "edit"
    assert "sample" in builder.nodes


def test_gfn_operator_writes_the_task_section():
    assert valid_cells(["task", "format"], ["gfn", "refine"], {"llm"}) == [
        ("task", "gfn"),
        ("task", "refine"),
        ("format", "refine"),
    ]


def test_method_choices_and_defaults():
    assert OptimizeConfig().method == "promptflow"
    assert OptimizeConfig(method="hybrid").gfn_online_ratio == 0.5
    with pytest.raises(ConfigError) as e:
        make_config(OptimizeConfig, method="gfn")
    assert e.value.field == "method"
    with pytest.raises(ConfigError) as e2:
        make_config(OptimizeConfig, gfn_online_ratio=1.5)
    assert e2.value.field == "gfn_online_ratio"
