"""Seconds per GFlowPO training step vs a plain forward+backward, and sampler throughput.

A training step = the policy's forward and backward (adapter on), the reference forward
(adapter off, the meta-prompt run once and shared), the VarGrad loss with the EMA log Z,
gradient clipping and the AdamW update; sampling and target-LM scoring are excluded.
The baseline is a plain forward+backward of the same batch with the adapter on, same
model and dtype, timed in the same run (interleaved, median of ``--repeats``).

Usage: python bench/gfn_step.py [--batch 4] [--repeats 7] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch

from flowpo.gfn import prompt_lm
from flowpo.gfn.metaprompt import meta_messages, render
from flowpo.gfn.objective import log_reward, vargrad_loss
from flowpo.gfn.session import demonstrations
from flowpo.gfn.settings import GfnSettings
from flowpo.tasks import resolve_task

INSTRUCTIONS = [
    "Classify the sentiment of the movie review as positive or negative.",
    "Read the sentence and answer yes if the reviewer liked the film, otherwise answer no.",
    "Decide whether this review is favourable.",
    "Is the opinion expressed in the text positive? Answer yes or no, nothing else, please.",
    "Say yes for praise and no for criticism.",
    "Determine if the review sentence expresses a positive sentiment toward the movie.",
    "Output yes when the review is positive and no when it is negative.",
    "Judge the tone of the movie review: positive means yes, negative means no.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--sample-tokens", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(0)
    settings = GfnSettings(dtype=args.dtype)
    tok, model = prompt_lm.load_prompt_lm(settings)
    demos = random.Random(0).sample(demonstrations(resolve_task("sst2")), settings.n_demos)
    prefix = list(tok.encode(render(tok, meta_messages(demos)), add_special_tokens=False))
    texts = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(args.batch)]
    seqs = prompt_lm.encode_texts(tok, texts)
    pad = int(tok.pad_token_id)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr)
    acc = torch.tensor([0.5 + 0.05 * i for i in range(args.batch)])
    state: dict[str, float | None] = {"log_z": None}

    def plain() -> None:
        model.train()
        prompt_lm.policy_logprobs(model, prefix, seqs, pad).sum().backward()
        opt.zero_grad(set_to_none=True)

    def step() -> None:
        log_ref = prompt_lm.reference_logprobs(model, prefix, seqs, pad)
        model.train()
        log_q = prompt_lm.policy_logprobs(model, prefix, seqs, pad)
        log_r = log_reward(log_ref, acc, beta=1 / 32)
        loss, state["log_z"] = vargrad_loss(log_q, log_r, state["log_z"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)

    plain(), step()  # warm up kernels and optimizer state
    times: dict[str, list[float]] = {"plain": [], "step": []}
    for _ in range(args.repeats):
        for name, fn in (("plain", plain), ("step", step)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    plain_s, step_s = statistics.median(times["plain"]), statistics.median(times["step"])
    model.eval()
    start = time.perf_counter()
    n_samples = 0
    for _ in range(2):
        out = prompt_lm.sample(
            model,
            tok,
            prefix,
            args.batch,
            temperature=1.0,
            top_p=0.9,
            max_tokens=args.sample_tokens,
        )
        n_samples += len(out)
    sample_s = time.perf_counter() - start
    row = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "model": settings.model,
        "dtype": args.dtype,
        "batch": args.batch,
        "prefix_tokens": len(prefix),
        "prompt_tokens": [len(s) for s in seqs],
        "plain_fwd_bwd_s": plain_s,
        "train_step_s": step_s,
        "ratio": step_s / plain_s,
        "plain_all_s": times["plain"],
        "step_all_s": times["step"],
        "samples_per_s": n_samples / sample_s,
        "sample_max_tokens": args.sample_tokens,
        "threads": torch.get_num_threads(),
    }
    print(
        f"plain fwd+bwd {plain_s:.3f} s | GFlowPO step {step_s:.3f} s | ratio "
        f"{row['ratio']:.2f}x | sampler {row['samples_per_s']:.2f} samples/s "
        f"(<= {args.sample_tokens} tokens, batch {args.batch}) | prefix {len(prefix)} tokens"
    )
    path = Path(__file__).parent / "results" / "gfn_step.json"
    path.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
