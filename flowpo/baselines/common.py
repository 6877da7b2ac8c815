"""What every baseline optimizer shares: the budget, the operator LM, scoring and selection.

The baselines (manual, few-shot, APE, OPRO, ProTeGi) run on flowpo's own
:class:`~flowpo.evaluation.Evaluator`, so a target-LM example evaluation is counted the
same way for every method: an example the target model really scored on the train
(reward) split. A scoring request that would go past the budget is refused
(:class:`BudgetSpent`), so a baseline never spends more than it was given. The final
prompt is chosen on the dev split among the best few train candidates (counted apart),
as flowpo's finalizer does; the test split is scored once, by the caller.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel

from flowpo.errors import ConfigError
from flowpo.evaluation import Evaluator, ExampleBudget
from flowpo.operators.llm import ask_each, clean
from flowpo.prompt import Prompt
from flowpo.search.objective import DEFAULT_SOFT_WEIGHT
from flowpo.search.objective import result_objective as objective
from flowpo.types import EvalResult, Example


@dataclass
class Trial:
    """A prompt and how it scored on the train examples seen so far.

    Attributes:
        prompt: The prompt.
        value: Mean objective over the scored train examples.
        metric: Mean task metric over them.
        n: How many train examples it was scored on.
        step: Search step that produced it (0 = the start).
        origin: What made it (``manual``, ``induced``, ``opro``, ``edit``, ...).
    """

    prompt: Prompt
    value: float = 0.0
    metric: float = 0.0
    n: int = 0
    step: int = 0
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "text": self.prompt.text,
            "value": self.value,
            "metric": self.metric,
            "n": self.n,
            "step": self.step,
            "origin": self.origin,
        }


@dataclass
class BaselineResult:
    """What a baseline run returns (the caller scores ``prompt`` on test once).

    Attributes:
        method: The baseline's name.
        prompt: The prompt chosen on dev.
        train: Its objective on train (``None`` if never scored there).
        dev: Its task metric on dev (``None`` when the method selects nothing).
        budget: ``train_examples_scored``, ``dev_examples_scored``, ``llm_calls``
            (batched operator-LM calls, flowpo's unit) and ``llm_requests`` (conversations).
        trials: Every prompt scored on train, in order.
        finalists: The candidates re-ranked on dev, with their dev metric.
    """

    method: str
    prompt: Prompt
    train: float | None
    dev: float | None
    budget: dict[str, int]
    trials: list[dict[str, Any]] = field(default_factory=list)
    finalists: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "method": self.method,
            "prompt": self.prompt.to_dict(),
            "text": self.prompt.text,
            "train": self.train,
            "dev": self.dev,
            "budget": self.budget,
            "trials": self.trials,
            "finalists": self.finalists,
        }


class Search:
    """One baseline run's shared state: task splits, budget, operator LM, trials.

    Args:
        evaluator: Scores prompts; its task gives the train and dev splits.
        llm: The operator LM (``None`` for methods that need none).
        budget_examples: Most train examples the target model may score.
        seed: Seed of every random choice of the run.
        soft_weight: Weight of the soft score in the objective.
    """

    def __init__(
        self,
        evaluator: Evaluator,
        llm: BaseChatModel | None,
        *,
        budget_examples: int,
        seed: int = 0,
        soft_weight: float = DEFAULT_SOFT_WEIGHT,
    ) -> None:
        """Bind the evaluator, the operator LM and the budget."""
        if budget_examples < 0:
            raise ConfigError(
                f"budget_examples is {budget_examples}",
                field="budget_examples",
                fix="give a budget of zero or more target-LM example evaluations",
            )
        self.evaluator = evaluator
        self.task = evaluator.task
        self.llm = llm
        self.budget = ExampleBudget(budget_examples)
        self.rng = random.Random(seed)
        self.soft_weight = soft_weight
        self.train: list[Example] = list(self.task.split("train"))
        self.dev: list[Example] = list(self.task.split("dev"))
        self.dev_scored = 0
        self.llm_calls = 0
        self.llm_requests = 0
        self.trials: list[Trial] = []
        self._by_text: dict[str, Trial] = {}
        self._seen: dict[str, set[str]] = {}
        self.last_result: EvalResult | None = None

    # ---- budget ---------------------------------------------------------------------
    @property
    def budget_examples(self) -> int:
        """Return the most train examples the target model may score."""
        return int(self.budget.limit or 0)

    @property
    def train_scored(self) -> int:
        """Return the train examples scored so far."""
        return int(self.budget.spent)

    @property
    def remaining(self) -> int:
        """Return the train examples that may still be scored."""
        return int(self.budget.left or 0)

    def cost(self, prompt: Prompt, examples: Sequence[Example]) -> int:
        """Return how many of ``examples`` are new for ``prompt`` (what scoring would cost)."""
        seen = self._seen.get(self._key(prompt), set())
        return sum(1 for ex in examples if ex.id not in seen)

    def affordable(self, prompt: Prompt, examples: Sequence[Example]) -> bool:
        """Return True when scoring ``prompt`` on ``examples`` fits in the budget."""
        return self.cost(prompt, examples) <= self.remaining

    # ---- scoring --------------------------------------------------------------------
    def _key(self, prompt: Prompt) -> str:
        return prompt.fingerprint(self.task.template, self.task.verbalizers)

    def trial(self, prompt: Prompt, *, step: int = 0, origin: str = "") -> Trial:
        """Return the trial of ``prompt`` (one per distinct prompt), made if new."""
        key = self._key(prompt)
        if key not in self._by_text:
            t = Trial(prompt, step=step, origin=origin)
            self._by_text[key] = t
            self.trials.append(t)
        return self._by_text[key]

    async def score(
        self, prompt: Prompt, examples: Sequence[Example] | None = None, **info: Any
    ) -> Trial:
        """Score ``prompt`` on train ``examples`` (default: all of train) and fold them in.

        Examples this prompt was already scored on are not scored (or counted) again.

        Raises:
            BudgetSpent: when the new examples would go past the budget.
        """
        examples = list(self.train if examples is None else examples)
        t = self.trial(prompt, **info)
        key = self._key(prompt)
        seen = self._seen.setdefault(key, set())
        new = [ex for ex in examples if ex.id not in seen]
        if not new:
            return t
        self.budget.ensure(len(new))
        result = await self.evaluator.aevaluate(prompt, new)
        self.budget.charge(len(new))  # cache hits within a run are impossible: new ids only
        seen.update(ex.id for ex in new)
        total = t.n + len(new)
        t.value = (t.value * t.n + objective(result, self.soft_weight) * len(new)) / total
        t.metric = (t.metric * t.n + result.score * len(new)) / total
        t.n = total
        self.last_result = result
        return t

    async def errors(self, prompt: Prompt, k: int) -> list[tuple[Example, Any]]:
        """Return (example, prediction) of the wrong answers on a random train minibatch.

        ``prompt`` is scored on ``k`` random train examples (counted in the budget): the
        minibatch ProTeGi reads its errors from.
        """
        batch = self.rng.sample(self.train, min(k, len(self.train)))
        self.last_result = None
        await self.score(prompt, batch)
        result = self.last_result
        if result is None:  # every example of the batch was scored before: look again
            result = await self.evaluator.aevaluate(prompt, batch)
        by_id = {ex.id: ex for ex in batch}
        return [(by_id[r.example_id], r.prediction) for r in result.examples if r.score < 1.0]

    def ranked(self, *, full_only: bool = False) -> list[Trial]:
        """Return the trials best first (by objective, then examples seen)."""
        pool = [t for t in self.trials if t.n and (not full_only or t.n >= len(self.train))]
        return sorted(pool, key=lambda t: (t.value, t.n), reverse=True)

    # ---- operator LM ----------------------------------------------------------------
    async def ask(self, system: str, users: list[str]) -> list[str]:
        """Send one conversation per user message in one batched call; '' where it failed."""
        if self.llm is None:
            raise ConfigError(
                "this baseline needs an operator LM",
                field="operator_model",
                fix="give the baseline a chat model",
            )
        asked = await ask_each(self.llm, system, users)
        self.llm_calls += asked.calls
        self.llm_requests += len(users)
        return asked.texts or [""] * len(users)

    # ---- selection ------------------------------------------------------------------
    async def finish(
        self, method: str, finalists: int = 3, *, extra: Sequence[Prompt] = ()
    ) -> BaselineResult:
        """Re-rank the best ``finalists`` train trials (plus ``extra``) on dev; choose one.

        Trials seen on all of train come first; a partly scored trial fills a place only
        when too few were fully scored.
        """
        full = self.ranked(full_only=True)
        rest = [t for t in self.ranked() if t not in full]
        chosen_trials = (full + rest)[:finalists]
        for p in extra:
            t = self.trial(p, origin="extra")
            if t not in chosen_trials:
                chosen_trials.append(t)
        rows = []
        for t in chosen_trials:
            result = await self.evaluator.aevaluate(t.prompt, self.dev)
            self.dev_scored += result.model_calls
            rows.append((objective(result, self.soft_weight), result.score, t))
        if not rows:
            raise ConfigError(
                f"{method}: no candidate to choose from",
                field="budget_examples",
                fix="give a budget of at least one train split",
            )
        best = max(rows, key=lambda r: (r[0], r[2].value))
        return BaselineResult(
            method,
            best[2].prompt,
            best[2].value if best[2].n else None,
            best[1],
            self.counts(),
            [t.to_dict() for t in self.trials],
            [{**t.to_dict(), "dev": m, "dev_value": v} for v, m, t in rows],
        )

    def counts(self) -> dict[str, int]:
        """Return the budget counters."""
        return {
            "train_examples_scored": self.train_scored,
            "dev_examples_scored": self.dev_scored,
            "llm_calls": self.llm_calls,
            "llm_requests": self.llm_requests,
        }


_TAGGED = re.compile(r"<(START|INS)>(.*?)</?(END|INS)>", re.DOTALL | re.IGNORECASE)
_LEAD = re.compile(r"^(the )?(instruction|prompt)( was| is)?\s*[:\-]?\s*", re.IGNORECASE)


def tagged(raw: str) -> list[str]:
    """Return the texts wrapped in ``<START>..<END>`` or ``<INS>..</INS>`` tags."""
    return [m.group(2).strip() for m in _TAGGED.finditer(raw) if m.group(2).strip()]


def instruction_text(raw: str, *, max_chars: int = 600) -> str:
    """Pull one instruction out of a free answer: tags, else the cleaned first paragraph.

    A small operator LM rarely keeps the requested tags, so its plain answer is used
    the way flowpo's operators use it (chatter, fences and label lines removed).
    """
    found = tagged(raw)
    text = found[0] if found else clean(raw).split("\n\n")[0]
    text = _LEAD.sub("", text.strip()).strip().strip('"').strip()
    for tag in ("<START>", "<END>", "<INS>", "</INS>"):
        text = text.replace(tag, "").replace(tag.lower(), "")
    return text.strip()[:max_chars].strip()


def usable(text: str) -> bool:
    """Return True when an instruction can be used.

    It must be non-empty, hold no template slot and not echo the request's ``<data>``
    blocks (the checks flowpo's operators make).
    """
    low = text.lower()
    return (
        bool(text.strip())
        and "{text}" not in text
        and "{prompt}" not in text
        and "<data" not in low
        and "</data" not in low
    )
