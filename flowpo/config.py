"""One configuration object per job; CLI flags and docs are generated from its fields.

Precedence: explicit argument > environment (``FLOWPO_<FIELD>``) > default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowpo.data_options import DataOptions
from flowpo.errors import ConfigError
from flowpo.gfn_options import GfnOptions
from flowpo.methods import DEFAULT_METHOD, METHODS, Method, get_method
from flowpo.models.spec import DEFAULT_MODEL, parse_spec

if TYPE_CHECKING:
    from flowpo.tasks.task import Task

BASELINE_BUDGET_ROUNDS = 8
"""A baseline run without ``budget_examples`` may score the train split this many times."""


class FaultOptions(BaseModel):
    """Remote-request limits and input truncation, shared by evaluation and optimization."""

    concurrency: int = Field(8, ge=1, description="Most remote-model requests in flight at once.")
    request_timeout: float = Field(
        60.0, gt=0, description="Seconds to wait for one remote-model request."
    )
    max_retries: int = Field(
        4,
        ge=0,
        description="Retries of a remote request after a timeout, a lost connection, "
        "HTTP 429 or 5xx (exponential backoff with jitter); then the run stops, resumable.",
    )
    retry_backoff: float = Field(
        0.5, ge=0, description="Seconds before the first retry (doubled each retry, jittered)."
    )
    max_input_chars: int = Field(
        10_000,
        ge=100,
        description="Data files: longest example input kept; longer ones are cut, with a warning.",
    )


class EvalConfig(FaultOptions, DataOptions, BaseSettings):
    """Settings of one evaluation of a prompt on a task."""

    model_config = SettingsConfigDict(env_prefix="FLOWPO_", extra="forbid")

    task: str = Field(
        "sst2", description="Built-in task name (see 'flowpo tasks') or a JSONL/CSV data file."
    )
    prompt: str | None = Field(
        None, description="The instruction text (default: the task's manual prompt)."
    )
    prompt_file: Path | None = Field(
        None,
        description="A Markdown prompt file (headers are "
        "sections; YAML front matter may set template, verbalizers).",
    )
    split: Literal["train", "dev", "test", "pool"] = Field(
        "test", description="Which split to score."
    )
    limit: int | None = Field(None, ge=1, description="Score only the first N examples.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Target model spec: local:smollm2-135m, "
        "local:/path, openai:<model>, openai-compatible:<url>#<model>.",
    )
    mode: Literal["auto", "verbalizer", "generate"] = Field(
        "auto", description="Scoring: label-word log-probs or decoding."
    )
    device: str = Field("auto", description="auto, cpu or cuda.")
    dtype: str = Field(
        "auto",
        description="auto (bfloat16 on CPUs with native bf16, else "
        "float32), float32, bfloat16 or float16.",
    )
    batch_size: int = Field(32, ge=1, description="Examples per forward pass.")
    max_new_tokens: int = Field(32, ge=1, description="Longest generation (generate mode).")
    cache: Path = Field(
        Path("runs/eval_cache.sqlite"),
        description="SQLite cache of per-example results (a repeated evaluation costs nothing).",
    )
    output: Path | None = Field(
        None,
        description="Where to write the JSON result (default: "
        "runs/eval-<task>-<split>-<model>-<prompt fingerprint>.json).",
    )
    seed: int | None = Field(
        None, description="LM-BFF data seed for few-shot splits (13, 21, 42, 87, 100)."
    )

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str) -> str:
        parse_spec(value)
        return value


def data_task(config: EvalConfig | OptimizeConfig) -> Task:
    """Return the task a config names (built-in or data file), its data options applied.

    The one place ``eval``, ``optimize``, ``resume``, the API and the server build a task.
    """
    from flowpo.tasks import resolve_task

    seed = config.seed if isinstance(config, EvalConfig) else config.data_seed
    return resolve_task(
        config.task, seed=seed, max_input_chars=config.max_input_chars, **config.task_options()
    )


def make_config(cls: type[BaseSettings], **kwargs: Any) -> BaseSettings:
    """Build a config, turning validation errors into ``ConfigError`` naming the field."""
    try:
        return cls(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):  # a validator's own error already says it all
            raise cause from None
        field = ".".join(str(p) for p in err["loc"]) or "config"
        command = _COMMANDS.get(cls.__name__, "")
        flag = "--" + field.replace("_", "-")
        raise ConfigError(
            f"invalid value {err.get('input')!r} for {flag}: {err['msg']}",
            field=field,
            fix=f"see 'flowpo {command} --help' for {flag} "
            f"(or the environment variable FLOWPO_{field.upper()})".replace("  ", " "),
        ) from None


_COMMANDS = {"EvalConfig": "eval", "OptimizeConfig": "optimize"}
"""The command whose flags each config class generates (named in error messages)."""


class OptimizeConfig(FaultOptions, DataOptions, GfnOptions, BaseSettings):
    """Settings of one optimization run (PromptFlow's defaults where the paper gives them)."""

    model_config = SettingsConfigDict(env_prefix="FLOWPO_", extra="forbid")

    task: str = Field(
        "sst2", description="Built-in task name (see 'flowpo tasks') or a JSONL/CSV data file."
    )
    method: str = Field(
        DEFAULT_METHOD,
        description="Search method: "
        + "; ".join(f"{m.name} = {m.description}" for m in METHODS.values())
        + f". Baselines spend at most budget_examples (default {BASELINE_BUDGET_ROUNDS} x "
        "the train split) and start from the manual prompt.",
    )
    optimizer: Literal["msgd", "msgd-rl"] = Field(
        "msgd-rl", description="Operator-selector update: MSGD (eq. 3) or SARSA (eq. 7)."
    )
    selector: Literal["learnt", "uniform", "prior"] = Field(
        "learnt",
        description="How edits are drawn: from the learnt Q table, uniformly over the valid "
        "(section, operator) cells, or from the starting prior without learning (the two "
        "ablation baselines of the learnt selector).",
    )
    screen_examples: int = Field(
        8,
        ge=0,
        description="Minibatch screening: a new edit is first scored on this many train "
        "examples beside its parent and scored on the rest only if it beats it there "
        "(0 = off; the example budget counts both).",
    )
    reward_examples: int | None = Field(
        None,
        ge=0,
        description="Train examples a candidate is scored on (the reward set). Default: all "
        "of train, or with budget_examples at most budget_examples / 8, so that the budget "
        "pays for 8 full scorings (the rest stay demonstrations); 0 = all of train.",
    )
    label_words: Literal["related", "free"] = Field(
        "related",
        description="Label-word candidates: the label's name, its variants and words the "
        "embedding model relates to it (a prompt a person can read), or any word the target "
        "ranks for the label's examples (free search; can overfit 32 examples).",
    )
    sarsa_credit: Literal["action", "epoch"] = Field(
        "action",
        description="SARSA reward: each action's own gain, paired with the action taken next "
        "from the prompt it made; or the paper's epoch-mean gain for every action.",
    )
    msgd_floor: float | None = Field(
        None,
        gt=0,
        description="Least parent score MSGD divides a gain by (default 1/|train|; the "
        "paper's 1e-8 lets one gain from a zero parent multiply Q by millions).",
    )
    start: Literal["manual", "scratch", "template"] = Field(
        "manual",
        description="Initial "
        "prompt: the task's manual prompt in sections, drafted by the operator LM, or "
        "--prompt-file as a template.",
    )
    prompt: str | None = Field(None, description="Initial task description (start=manual).")
    prompt_file: Path | None = Field(
        None,
        description="Markdown template: headers are sections, '(frozen)' ones are never edited.",
    )
    model: str = Field(DEFAULT_MODEL, description="Target model spec (whose prompt is trained).")
    operator_model: str | None = Field(
        None,
        description="Operator LM spec for operators and reflection (default: the target model).",
    )
    operators: str | None = Field(
        None, description="Comma-separated operator names (default: all registered)."
    )
    edit_format: bool = Field(
        True,
        description="Let the search edit the frame around the "
        "input, the label words and calibration; false = the benchmark "
        "protocol (the task's frame and label words stay frozen).",
    )
    max_epochs: int = Field(10, ge=1, description="Stop after this many epochs (paper: 10).")
    patience: int = Field(
        3,
        ge=1,
        description="Stop when the best train loss has not "
        "improved by more than tol for this many epochs.",
    )
    tol: float = Field(0.0, ge=0, description="Smallest train-loss improvement that counts.")
    beam_size: int = Field(3, ge=1, description="Top-k prompts kept each epoch (paper: 3).")
    annealing: int = Field(
        2, ge=0, description="Simulated-annealing picks kept besides the top-k (paper: 2)."
    )
    actions_per_epoch: int = Field(6, ge=1, description="(section, operator) edits per epoch.")
    children_per_action: int = Field(
        2,
        ge=1,
        description="Most new prompts kept from one edit (Few-Shot offers one per strategy); "
        "each is scored and credited as its own action.",
    )
    alpha: float = Field(1.0, gt=0, description="MSGD step: Q <- Q(1 + alpha Norm) (paper: 1).")
    sarsa_alpha: float = Field(0.5, gt=0, le=1, description="SARSA learning rate (paper: 0.5).")
    sarsa_gamma: float = Field(0.5, ge=0, le=1, description="SARSA discount (paper: 0.5).")
    temperature: float = Field(1.0, gt=0, description="Softmax temperature over Q.")
    epsilon: float = Field(0.1, ge=0, le=1, description="Chance of a uniformly random action.")
    soft_weight: float = Field(
        0.5,
        ge=0,
        description="Weight of the soft score (mean "
        "gold-label probability) added to the train metric to break "
        "ties; 0 = the metric alone.",
    )
    failure_penalty: float = Field(
        0.1, ge=0, description="Relative score loss charged to an action whose output was rejected."
    )
    reflect_cases: int = Field(8, ge=0, description="Wrong predictions the reflector explains.")
    n_shots: int = Field(
        16, ge=1, description="Demonstrations the Few-Shot operator inserts (LM-BFF: 16)."
    )
    retrieve: int = Field(
        4,
        ge=0,
        le=32,
        description="Also start from the prompt that retrieves this many nearest labelled "
        "examples per input as its demonstrations (kNN prompting); the search takes it up "
        "only when it clearly beats the plain start on the reward set (a sign test), and "
        "otherwise still judges it on dev at the end; 0 = never.",
    )
    budget_examples: int | None = Field(
        None,
        description="Most target-LM example evaluations (cache hits are free); none = no "
        f"limit for graph methods, {BASELINE_BUDGET_ROUNDS} x the train split for baselines.",
    )
    budget_llm_calls: int | None = Field(None, description="Most operator-LM calls.")
    budget_seconds: float | None = Field(None, description="Most wall-clock seconds.")
    evaluate_test: bool = Field(
        True,
        description="Score the initial and the final prompt on the test split once at the end.",
    )
    track_dev: bool = Field(
        True,
        description="Score each new best prompt on dev for the report's per-epoch dev curve "
        "(cached, reported only: selection still uses dev once at the end).",
    )
    seed: int = Field(0, description="Random seed of the search.")
    data_seed: int | None = Field(None, description="LM-BFF data seed of few-shot splits.")
    device: str = Field("auto", description="auto, cpu or cuda.")
    dtype: str = Field("auto", description="auto, float32, bfloat16 or float16.")
    batch_size: int = Field(32, ge=1, description="Examples per forward pass.")
    max_new_tokens: int = Field(32, ge=1, description="Longest generation (generation tasks).")
    operator_max_tokens: int = Field(160, ge=8, description="Longest operator-LM answer.")
    max_section_chars: int = Field(
        1500, ge=50, description="Longest section an operator may write."
    )
    max_examples_chars: int = Field(
        4000, ge=50, description="Longest demonstrations section (Few-Shot trims to fit)."
    )
    run_dir: Path | None = Field(None, description="Run directory (default: runs/<task>-<time>).")
    use_memory: bool = Field(
        True,
        description="Use the experience memory: Q warm start from "
        "similar past tasks, RAG over past sections, and store this run.",
    )
    memory_dir: Path | None = Field(
        None,
        description="Experience memory directory (default: "
        "$FLOWPO_MEMORY or ~/.cache/flowpo/memory, shared by runs).",
    )
    memory_snapshot: Path | None = Field(
        None,
        description="Read only the memory records a snapshot names: an earlier run's "
        "memory_read.json (or its run directory), to repeat that run exactly.",
    )
    embedder: str = Field(
        "local:all-minilm-l6-v2",
        description="Embedding model of the "
        "memory: local:all-minilm-l6-v2 or an OpenAI-compatible spec.",
    )

    approve: bool = Field(
        False,
        description="Pause for human approval (approve / edit / reject) whenever a new best "
        "prompt is found.",
    )
    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where evaluation batches run: in this process, or fanned out as Ray "
        "tasks (extra [ray]).",
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster to join (executor=ray): 'auto', 'ray://host:10001', or "
        "none to start a local Ray.",
    )
    ray_workers: int = Field(
        2, ge=1, description="Ray tasks one evaluation batch is split into (executor=ray)."
    )
    checkpointer: str | None = Field(
        None,
        description="Where checkpoints live: none = SQLite in the run directory, or a "
        "postgresql://user@host:port/db URL (extra [postgres]).",
    )

    # ---- programs (issue 17): a LangChain chain whose system message is optimized ------
    program: str | None = Field(
        None,
        description="A LangChain chat program 'module:attr' (ChatPromptTemplate | chat model "
        "[| parser]) whose system message is optimized, scored with the metric on its "
        "outputs; 'python:<name>' marks an object given to flowpo.optimize(program=...).",
    )

    @field_validator("model", "operator_model")
    @classmethod
    def _model_specs(cls, value: str | None) -> str | None:
        if value is not None:
            parse_spec(value)
        return value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        get_method(value)  # unknown names fail with the list of known ones
        return value

    @property
    def method_spec(self) -> Method:
        """Return the registered :class:`~flowpo.methods.Method` this run uses."""
        return get_method(self.method)


    @field_validator("memory_snapshot")
    @classmethod
    def _snapshot_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not Path(value).exists():
            raise ValueError("no such file or run directory (give a run's memory_read.json)")
        return value

    @field_validator("checkpointer")
    @classmethod
    def _checkpointer_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("give a postgresql://user@host:port/db URL (or leave it unset)")
        return value

    @field_validator("budget_examples", "budget_llm_calls", "budget_seconds")
    @classmethod
    def _positive_budget(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("a budget must be positive (leave it unset for no limit)")
        return value
