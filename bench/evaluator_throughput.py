"""Evaluator throughput: plain batched forward vs flowpo's prefix-cached evaluator.

On the 872 SST-2 test sentences with a ~150-token prompt, measures sentences/second of
(a) a plain batched transformers forward over each full text and (b) flowpo's evaluator,
same model, same dtype, in one run; prints the ratio, the machine's float32 and bfloat16
matmul peak (GFLOP/s) and the evaluator's achieved fraction of it. Writes JSON to
bench/results/evaluator_throughput.json.

Usage: python bench/evaluator_throughput.py [--limit N] [--dtype auto|float32|bfloat16]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.local import LocalLM
from flowpo.prompt import Prompt, Section
from flowpo.tasks import load_task

PROMPT = Prompt(
    sections=(
        Section(
            "task",
            "In this task you read one sentence taken from a movie review written by a "
            "film critic, and you decide whether the critic liked the movie or not. Focus on "
            "the overall opinion the sentence expresses rather than on isolated words.",
        ),
        Section(
            "positive",
            "Answer yes when the sentence praises the film, its acting, story, "
            "direction or music, or recommends it, even with mild reservations.",
        ),
        Section(
            "negative",
            "Answer no when the sentence criticises the film, calls it boring, "
            "predictable, badly acted or a waste of time, even when it is ironic or sarcastic.",
        ),
        Section(
            "format",
            "Reply with a single word, yes or no, and nothing else. Do not explain "
            "your answer and do not repeat the sentence.",
        ),
    )
)


def matmul_peak(dtype: torch.dtype, n: int = 1024, reps: int = 20) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


@torch.inference_mode()
def plain_forward(lm: LocalLM, texts: list[str], word_ids: list[int], batch: int) -> list[int]:
    """Baseline: tokenizer padding, full forward with full logits, last real token."""
    tok = lm.tokenizer
    tok.padding_side = "right"
    preds: list[int] = []
    for start in range(0, len(texts), batch):
        enc = tok(
            texts[start : start + batch],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        logits = lm.model(**enc).logits  # [B, T, V]
        last = enc["attention_mask"].sum(1) - 1
        rows = logits[torch.arange(len(last)), last][:, word_ids]
        preds.extend(rows.argmax(-1).tolist())
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    task = load_task("sst2")
    examples = task.split("test")[: args.limit]
    lm = LocalLM(dtype=args.dtype, batch_size=args.batch_size)
    prefix, pattern = PROMPT.split_render(task.template)
    texts = [prefix + pattern.replace("{text}", task.format_input(e)) for e in examples]
    prompt_tokens = len(lm.encode(prefix))
    word_ids = [lm.word_token(task.verbalizers[lab]) for lab in task.labels]
    n_params = (
        sum(p.numel() for p in lm.model.model.parameters())
        - lm.model.model.embed_tokens.weight.numel()
    )

    t0 = time.perf_counter()
    base_preds = plain_forward(lm, texts, word_ids, args.batch_size)
    t_plain = time.perf_counter() - t0

    ev = Evaluator(task, lm, cache=EvalCache())
    tokens0 = lm.stats.tokens_in
    t0 = time.perf_counter()
    result = ev.evaluate(PROMPT, examples)
    t_eval = time.perf_counter() - t0
    tokens = lm.stats.tokens_in - tokens0

    agree = sum(
        task.labels[b] == r.prediction for b, r in zip(base_preds, result.examples, strict=True)
    )
    peak = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}
    achieved = 2 * n_params * tokens / t_eval / 1e9
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "examples": len(examples),
        "prompt_tokens": prompt_tokens,
        "dtype": lm.dtype,
        "plain_sentences_per_s": len(examples) / t_plain,
        "evaluator_sentences_per_s": len(examples) / t_eval,
        "ratio": t_plain / t_eval,
        "prediction_agreement": agree / len(examples),
        "accuracy": result.score,
        "matmul_peak_gflops": peak,
        "evaluator_gflops": achieved,
        "evaluator_fraction_of_peak": achieved / peak[lm.dtype if lm.dtype in peak else "float32"],
    }
    for k, v in out.items():
        print(f"{k:30} {v:.3f}" if isinstance(v, float) else f"{k:30} {v}")
    path = Path(__file__).parent / "results" / "evaluator_throughput.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
