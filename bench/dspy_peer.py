"""DSPy COPRO and MIPROv2 on the embedded model, through flowpo's OpenAI-compatible server.

The server (``flowpo.model_server``, what ``flowpo serve-model`` runs) is started in this
process on 127.0.0.1 with a fresh instance of the embedded model, so its counters are
exactly what DSPy spent: generations (requests x n), batches and prompt tokens.
``example evaluations`` counts DSPy's metric calls during compile (one per example a
candidate program was scored on). Budget: DSPy has no global cap; COPRO's breadth/depth
and MIPROv2's trials are set so that example evaluations land near the shared budget.

The 135M model never writes DSPy's ``[[ ## field ## ]]`` markers, so a lenient adapter
parses what it can: when DSPy's own parse fails, the answer is the first label word in
the text (classification) or its first line (generation). Such answers are counted as
parse failures and reported apart. The test score is DSPy's own program (its
instruction, demos and adapter) run through the server on the same test sample.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-list download


def unavailable(server: str | None = None) -> str | None:
    """Return why the DSPy peer cannot run here, or ``None`` when it can."""
    if importlib.util.find_spec("dspy") is None:
        return "dspy is not installed (pip install -e '.[bench]')"
    if importlib.util.find_spec("optuna") is None:
        return "optuna is not installed (MIPROv2 needs dspy[optuna])"
    if importlib.util.find_spec("flowpo.model_server") is None:
        return "this build has no OpenAI-compatible server of the embedded model"
    return None


class _Counter:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.n += 1


def _lenient_adapter(words: list[str], failures: _Counter) -> Any:
    import dspy
    from dspy.utils.exceptions import AdapterParseError

    pattern = re.compile(
        r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE
    ) if words else None

    class Lenient(dspy.ChatAdapter):  # type: ignore[misc]
        """ChatAdapter that falls back to the label word / first line (counted)."""

        def parse(self, signature: Any, completion: str) -> dict[str, Any]:
            try:
                return dict(super().parse(signature, completion))
            except AdapterParseError:
                failures.add()
            text = re.sub(r"\[\[\s*##.*?##\s*\]\]", " ", completion).strip()
            names = list(signature.output_fields)
            out: dict[str, Any] = {n: "" for n in names}
            if "answer" in names and pattern is not None:
                m = pattern.search(text)
                out["answer"] = m.group(1) if m else text.split("\n")[0].strip()
            else:
                lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
                out[names[0]] = lines[0] if lines else ""
            return out

    return Lenient(use_json_adapter_fallback=False)


def run(env: Any, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """Run DSPy's ``method`` (dspy-copro or dspy-mipro) on ``name``; score it on test."""
    import dspy
    import torch

    from bench.common import test_examples
    from flowpo.metrics import score_example
    from flowpo.model_server.server import start_server
    from flowpo.models.local import LocalLM
    from flowpo.tasks import resolve_task
    from flowpo.tasks.manual import manual_prompt

    torch.manual_seed(seed)
    task = resolve_task(name, seed=seed)
    train, dev = task.split("train"), task.split("dev")
    test = test_examples(task, env.profile["test_limit"])
    words = [task.verbalizers[lab] for lab in task.labels] if task.kind == "classification" else []
    lm_local = LocalLM()
    server = start_server(lm_local, "smollm2-135m")
    failures, evals = _Counter(), _Counter()
    try:
        lm = dspy.LM(
            f"openai/{server.model}", api_base=server.base_url, api_key="x",
            temperature=0.0, max_tokens=96, cache=False, num_retries=0,
        )
        dspy.configure(lm=lm, adapter=_lenient_adapter(words, failures), max_errors=10_000)
        desc = f"one of: {', '.join(words)}" if words else "the output"
        sig = dspy.make_signature(
            {"input": (str, dspy.InputField()), "answer": (str, dspy.OutputField(desc=desc))},
            manual_prompt(task, list(task.reference_prompts)),
        )
        program = dspy.Predict(sig)

        def ex(e: Any) -> Any:
            gold = task.verbalizers[e.target] if words else (e.answers() or (str(e.target),))[0]
            return dspy.Example(input=task.format_input(e), answer=gold, example=e).with_inputs(
                "input"
            )

        def answer_of(pred: Any) -> str:
            return str(getattr(pred, "answer", "") or "").strip()

        def correct(example: Any, pred: Any) -> float:
            gold = example.example
            if words:
                return float(answer_of(pred).lower() == task.verbalizers[gold.target].lower())
            first = answer_of(pred).split("\n")[0].strip()
            return float(score_example(task.metric, first, gold))

        def metric(example: Any, pred: Any, trace: Any = None) -> float:
            evals.add()
            return correct(example, pred)

        trainset, devset = [ex(e) for e in train], [ex(e) for e in dev]
        n = len(trainset)
        if method == "dspy-copro":
            depth = 2
            breadth = max(2, round(budget / n / depth))
            settings = {"breadth": breadth, "depth": depth}
            opt = dspy.COPRO(metric=metric, breadth=breadth, depth=depth, init_temperature=1.0)
            compiled = opt.compile(
                program, trainset=trainset,
                eval_kwargs={"num_threads": 4, "display_progress": False},
            )
        else:
            trials = max(1, round(budget / len(devset)) - 1)
            settings = {"num_candidates": 2, "num_trials": trials, "max_bootstrapped_demos": 1,
                        "max_labeled_demos": 2, "valset": "dev", "minibatch": False}
            opt = dspy.MIPROv2(metric=metric, auto=None, num_candidates=2, num_threads=4,
                               max_bootstrapped_demos=1, max_labeled_demos=2, seed=seed,
                               verbose=False)
            compiled = opt.compile(program, trainset=trainset, valset=devset, num_trials=trials,
                                   minibatch=False)
        spent = dict(lm_local.stats.as_dict())
        compile_failures, compile_evals = failures.n, evals.n
        evaluate = dspy.Evaluate(devset=[ex(e) for e in test], metric=correct, num_threads=4,
                                 display_progress=False, max_errors=10_000)
        score = evaluate(compiled).score / 100.0
        instruction = compiled.predictors()[0].signature.instructions
        demos = len(compiled.predictors()[0].demos)
    finally:
        server.stop()
    return {
        "test": score, "test_n": len(test), "dev": None, "train": None,
        "train_examples": compile_evals, "dev_examples": 0,
        "llm_calls": int(spent["calls"]), "llm_requests": int(spent["examples"]),
        "server_requests": int(spent["examples"]), "server_batches": int(spent["calls"]),
        "server_prompt_tokens": int(spent["tokens_in"]),
        "compile_parse_failures": compile_failures,
        "parse_failures": failures.n - compile_failures,
        "prompt": instruction, "demos": demos, "settings": settings,
    }
