"""How far frame and label words can take the target on one task: a ceiling probe.

For every frame of flowpo's library (``flowpo.operators.framing.FRAMES``, instruction
empty) plus ``--extra-frames``, runs the target once per example on train, dev and test
and keeps the next-token log-probs of every candidate label word: the label names, a
hand list of sentiment words, and the 12 words per label the target itself ranks highest
after the frame on train (``flowpo.search.labelwords.discriminative_tokens``). Then, with no more
forward passes, it scores every word pair raw and with contextual calibration and
reports per frame:

* ``select``: the pair (and calibration on/off) best on train+dev, scored on test once:
  what a search that selects on the labelled splits can reach;
* ``oracle``: the best test accuracy over all pairs and both calibrations (a ceiling no
  selection can beat: it peeks at test);
* the best ensemble of 2-4 frames (calibrated log-probs summed), selected on train+dev.

Writes ``bench/results/frame_ceiling_<task>.json``.

Usage: python bench/frame_ceiling.py [--task sst2] [--extra-frames '["{prompt}{text} It was"]']
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from flowpo.evaluation.evaluator import CONTENT_FREE
from flowpo.models.local import LocalLM
from flowpo.operators.framing import FRAMES
from flowpo.search.labelwords import discriminative_tokens, word_mask
from flowpo.tasks import resolve_task

SENTIMENT = {
    0: ["negative", "bad", "terrible", "awful", "poor", "boring", "horrible", "no", "No"],
    1: ["positive", "good", "great", "excellent", "wonderful", "fun", "brilliant", "yes", "Yes"],
}
EXTRA = [
    "{prompt}Movie review: {text}\nSentiment:",
    "{prompt}{text}\nSentiment:",
    "{prompt}Review: \"{text}\"\nSentiment:",
    "{prompt}Review: {text}\nOverall sentiment:",
    "{prompt}{text} It was",
]


def accuracy(scores: np.ndarray, gold: np.ndarray) -> float:
    return float((scores.argmax(1) == gold).mean())


def normalise(rows: np.ndarray) -> np.ndarray:
    return rows - np.logaddexp.reduce(rows, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--extra-frames", default=json.dumps(EXTRA))
    args = ap.parse_args()
    task = resolve_task(args.task)
    labels = list(task.labels)
    lm = LocalLM()
    splits = {s: task.split(s) for s in ("train", "dev", "test")}
    gold = {s: np.array([labels.index(e.target) for e in ex]) for s, ex in splits.items()}
    frames = [f.replace("{prompt}\n\n", "{prompt}").replace("{prompt} ", "{prompt}")
              for f in FRAMES] + json.loads(args.extra_frames)
    allowed = word_mask(lm)
    per_frame: list[dict[str, Any]] = []
    calibrated: dict[str, dict[str, np.ndarray]] = {}
    start = time.perf_counter()
    for frame in dict.fromkeys(frames):
        pattern = frame.replace("{prompt}", "")
        rows = {s: lm.next_token_logprobs("", [pattern.replace("{text}", task.format_input(e))
                                               for e in ex]).numpy()
                for s, ex in splits.items()}
        cf = lm.next_token_logprobs("", [pattern.replace("{text}", t) for t in CONTENT_FREE])
        found = discriminative_tokens(rows["train"], gold["train"], len(labels), allowed, k=12)
        cands: list[list[int]] = []
        for i, label in enumerate(labels):
            words = [task.verbalizers[label], label, *SENTIMENT.get(i, [])] if len(labels) == 2 \
                else [task.verbalizers[label], label]
            ids = [lm.encode(" " + w) for w in words]
            cands.append(list(dict.fromkeys([t[0] for t in ids if len(t) == 1] + found[i])))
        best_sel: tuple[float, Any] = (-1.0, None)
        oracle: tuple[float, Any] = (-1.0, None)
        for combo in itertools.product(*cands):
            if len(set(combo)) < len(combo):
                continue
            ids = list(combo)
            p = np.exp(normalise(cf[:, ids].numpy())).mean(0)
            for cal, bias in (("off", 0.0), ("on", np.log(p))):
                acc = {s: accuracy(rows[s][:, ids] - bias, gold[s]) for s in splits}
                words = [lm.tokenizer.decode([t]).strip() for t in ids]
                entry = {"words": words, "calibrate": cal, **acc}
                sel = (acc["train"] + acc["dev"]) / 2
                if sel > best_sel[0]:
                    best_sel = (sel, entry)
                if acc["test"] > oracle[0]:
                    oracle = (acc["test"], entry)
        assert best_sel[1] is not None and oracle[1] is not None
        w = [lm.encode(" " + w)[0] for w in best_sel[1]["words"]]
        bias = np.log(np.exp(normalise(cf[:, w].numpy())).mean(0))
        calibrated[frame] = {s: normalise(rows[s][:, w] - bias) for s in splits}
        per_frame.append({"frame": frame, "select": best_sel[1], "oracle": oracle[1]})
        print(f"{frame!r}: select {best_sel[1]} | oracle test {oracle[0]:.4f} "
              f"{oracle[1]['words']} cal {oracle[1]['calibrate']}", flush=True)
    ensembles = []
    for r in (2, 3, 4):
        for combo in itertools.combinations(calibrated, r):
            acc = {s: accuracy(sum(calibrated[f][s] for f in combo), gold[s]) for s in splits}
            ensembles.append({"frames": list(combo), **acc})
    best_ens = max(ensembles, key=lambda e: (e["train"] + e["dev"]) / 2)
    oracle_ens = max(ensembles, key=lambda e: e["test"])
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "task": args.task, "model": lm.model_id,
        "dtype": str(lm.dtype), "seconds": round(time.perf_counter() - start, 1),
        "frames": per_frame, "ensemble_selected": best_ens, "ensemble_oracle": oracle_ens,
        "best_selected_test": max(f["select"]["test"] for f in per_frame),
        "best_oracle_test": max(f["oracle"]["test"] for f in per_frame),
    }
    print(f"best selected single frame: test {out['best_selected_test']:.4f}; oracle "
          f"{out['best_oracle_test']:.4f}; ensemble selected {best_ens['test']:.4f}, "
          f"oracle {oracle_ens['test']:.4f} ({out['seconds']:.0f} s)")
    path = Path(__file__).parent / "results" / f"frame_ceiling_{args.task}.json"
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
