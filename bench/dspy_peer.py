"""DSPy's optimizers on the embedded model, through flowpo's OpenAI-compatible server.

MIPROv2, GEPA, BootstrapFewShotWithRandomSearch and COPRO, each set up as in
bench/dspy_plans.py; the task LM answers greedily in at most 24 tokens (room for the
whole answer DSPy asks for; generation: the profile's length + 24), the proposer (MIPROv2's
and COPRO's prompt model, GEPA's reflection LM) is the same served model sampling at
temperature 1 with flowpo's operator-LM length (160 tokens).

The server (``flowpo.model_server``, what ``flowpo serve-model`` runs) is started in this
process on 127.0.0.1 with a fresh instance of the embedded model, so its counters are
exactly what DSPy spent: generations (requests x n), batches and prompt tokens.
``example evaluations`` counts DSPy's metric calls during compile (one per example a
candidate program was scored on, on train or on dev, its validation set). The compiled
program is then scored on dev (counted apart, as flowpo's dev is) and on test.

Adapter: the 135M model never writes DSPy's ``[[ ## field ## ]]`` markers (ChatAdapter
0% on SST-2) and its JSON does not match the declared type (JSONAdapter, the default
fallback, 12% at twice the calls: /work/shared/docs/peers.md), so a lenient adapter
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
    """Run DSPy's ``method`` (bench/dspy_plans.py) on ``name``; score it on dev and test."""
    import torch

    from bench.common import setting, test_examples
    from flowpo.model_server.server import start_server
    from flowpo.models.local import LocalLM
    from flowpo.tasks import resolve_task

    torch.manual_seed(seed)
    task = resolve_task(name, seed=seed)
    test = test_examples(task, setting(env.profile, task, "test_limit"))
    lm_local = LocalLM()
    server = start_server(lm_local, "smollm2-135m")
    try:
        # room for the whole answer DSPy asks for ("[[ ## answer ## ]]\nyes\n\n[[ ##
        # completed ## ]]", ~18 tokens), with the generation's own length for generation
        answer = 24 if task.kind == "classification" else setting(env.profile, task,
                                                                   "max_new_tokens") + 24
        peer = _Peer(task, server, answer)
        return peer.run(method, seed, budget, test, lm_local)
    finally:
        server.stop()


class _Peer:
    """One DSPy cell: the LMs on the served model, the program, metrics and counters."""

    def __init__(self, task: Any, server: Any, max_tokens: int) -> None:
        import dspy

        from flowpo.tasks.manual import manual_prompt

        self.task = task
        self.words = ([task.verbalizers[lab] for lab in task.labels]
                      if task.kind == "classification" else [])
        self.failures, self.evals = _Counter(), _Counter()
        lm = {"api_base": server.base_url, "api_key": "x", "cache": False, "num_retries": 0}
        # the task LM answers in a few tokens (markers included); the proposer writes
        # instructions with flowpo's operator-LM length, sampled like DSPy's examples do
        self.lm = dspy.LM(f"openai/{server.model}", engine="litellm", temperature=0.0,
                          max_tokens=max_tokens, **lm)
        self.prompt_lm = dspy.LM(f"openai/{server.model}", engine="litellm", temperature=1.0,
                                 max_tokens=160, **lm)
        dspy.configure(lm=self.lm, adapter=_lenient_adapter(self.words, self.failures),
                       max_errors=10_000)
        desc = f"one of: {', '.join(self.words)}" if self.words else "the output"
        sig = dspy.make_signature(
            {"input": (str, dspy.InputField()), "answer": (str, dspy.OutputField(desc=desc))},
            manual_prompt(task, list(task.reference_prompts)),
        )
        self.program = dspy.Predict(sig)

    def example(self, e: Any) -> Any:
        import dspy

        task = self.task
        gold = task.verbalizers[e.target] if self.words else (e.answers() or (str(e.target),))[0]
        return dspy.Example(input=task.format_input(e), answer=gold, example=e).with_inputs(
            "input")

    def correct(self, example: Any, pred: Any, trace: Any = None) -> float:
        from flowpo.metrics import score_example

        gold = example.example
        answer = str(getattr(pred, "answer", "") or "").strip()
        if self.words:
            return float(answer.lower() == self.task.verbalizers[gold.target].lower())
        return float(score_example(self.task.metric, answer.split("\n")[0].strip(), gold))

    def metric(self, example: Any, pred: Any, trace: Any = None) -> float:
        self.evals.add()
        return self.correct(example, pred)

    def feedback_metric(self, gold: Any, pred: Any, trace: Any = None, pred_name: Any = None,
                        pred_trace: Any = None) -> Any:
        """GEPA's metric: the score and, as feedback, what the right answer was."""
        import dspy

        score = self.metric(gold, pred)
        said = str(getattr(pred, "answer", "") or "").strip()[:80]
        note = "Correct." if score else f"Wrong: answered {said!r}, expected {gold.answer!r}."
        return dspy.Prediction(score=score, feedback=note)

    def evaluate(self, program: Any, examples: list[Any]) -> list[float]:
        import dspy

        ev = dspy.Evaluate(devset=[self.example(e) for e in examples], metric=self.correct,
                           num_threads=4, display_progress=False, max_errors=10_000)
        return [float(r[2]) for r in ev(program).results]

    def run(self, method: str, seed: int, budget: int, test: list[Any], lm_local: Any
            ) -> dict[str, Any]:
        from bench.dspy_plans import compile_program, plan

        train, dev = self.task.split("train"), self.task.split("dev")
        settings = plan(method, budget, len(train), len(dev))
        metric = self.feedback_metric if method == "dspy-gepa" else self.metric
        compiled = compile_program(method, settings, self.program,
                                   [self.example(e) for e in train],
                                   [self.example(e) for e in dev], metric, self.prompt_lm, seed)
        spent = dict(lm_local.stats.as_dict())
        compile_failures, compile_evals = self.failures.n, self.evals.n
        dev_scores = self.evaluate(compiled, dev)
        dev_failures = self.failures.n - compile_failures
        test_scores = self.evaluate(compiled, test)
        predictor = compiled.predictors()[0]
        return {
            "test": sum(test_scores) / len(test_scores), "test_n": len(test),
            "test_scores": test_scores, "dev": sum(dev_scores) / len(dev_scores),
            "train": None, "train_examples": compile_evals, "dev_examples": len(dev),
            "llm_calls": int(spent["calls"]), "llm_requests": int(spent["examples"]),
            "server_requests": int(spent["examples"]), "server_batches": int(spent["calls"]),
            "server_prompt_tokens": int(spent["tokens_in"]),
            "compile_parse_failures": compile_failures,
            "parse_failures": self.failures.n - compile_failures - dev_failures,
            "prompt": predictor.signature.instructions, "demos": len(predictor.demos),
            "settings": settings, "adapter": "lenient ChatAdapter (label word / first line)",
        }
