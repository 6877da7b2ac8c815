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


def test_gflowpo_at_its_defaults_updates_before_any_stop():
    from flowpo.gfn.settings import step_plan
    from flowpo.search.stopping import stop_reason

    config = OptimizeConfig(method="gflowpo", max_epochs=5)  # the README's epochs
    per, warmup = step_plan(config, 32)
    assert (per, warmup) == (20, 25)  # 100 steps planned, a quarter warm up
    first_update_epoch = warmup // per + 1
    assert first_update_epoch < config.max_epochs
    # however stale the search, patience does not stop a learner that is still warming up
    budget = {"examples_scored": 0}
    assert stop_reason(epoch=2, stale=9, budget=budget, config=config, learning=False) is None
    assert "converged" in stop_reason(epoch=2, stale=9, budget=budget, config=config)
    # an example budget shrinks the plan to what it can pay for (16 samples x 32 examples)
    small = OptimizeConfig(method="gflowpo", max_epochs=5, budget_examples=2048)
    assert step_plan(small, 32) == (1, 1)
    hybrid = OptimizeConfig(method="hybrid")
    assert step_plan(hybrid, 32) == (2, 1)  # the second step of the first action updates
    assert step_plan(OptimizeConfig(gfn_warmup_steps=7, gfn_steps_per_epoch=3), 32) == (3, 7)


def test_sampler_never_passes_the_example_budget():
    import asyncio

    from flowpo.evaluation import ExampleBudget
    from flowpo.gfn.session import run_steps

    class Trainer:
        s = type("S", (), {"grad_accum": 2, "batch_size": 2})()
        steps = 0

        async def astep(self, score):
            self.steps += 1
            budget.charge(32)  # every sample fresh: the step's worst case
            return self.steps

    budget = ExampleBudget(limit=100, spent=30)  # a step may need 2 x 2 x 8 = 32
    trainer = Trainer()
    done = asyncio.run(run_steps(trainer, None, 5, budget, 8))
    assert len(done) == 2 and trainer.steps == 2  # 30 + 32 + 32 = 94; a third could pass 100
    assert budget.spent == 94 <= budget.limit


def test_a_budget_that_cannot_pay_one_gflowpo_step_stops_the_run_with_the_fix():
    from flowpo.agents.sampler import unaffordable
    from flowpo.evaluation import ExampleBudget

    class Trainer:
        s = type("S", (), {"grad_accum": 4, "batch_size": 4})()

    # 256 examples, 32 spent on the start: a step may need 4 x 4 x 32 = 512.
    why = unaffordable(Trainer(), ExampleBudget(limit=256, spent=32), 32)
    assert "224 examples left" in why and "16 sampled prompts on 32 train examples = 512" in why
    assert "--budget-examples" in why and "--gfn-batch-size" in why
