"""serve-model, a remote target and the Ray executor against the real embedded model."""

import asyncio
from pathlib import Path

import httpx
import pytest

from flowpo.errors import ModelError
from flowpo.model_server.server import start_server
from flowpo.models.remote import RemoteLM
from flowpo.run.runner import optimize

pytestmark = pytest.mark.slow

TINY = {
    "task": "sst2",
    "max_epochs": 1,
    "actions_per_epoch": 2,
    "reflect_cases": 0,
    "operators": "few_shot,repeat_instructions",  # no operator-LM call: tests stay short
    "evaluate_test": False,
    "use_memory": False,
    "dtype": "float32",
}


@pytest.fixture(scope="module")
def served(embedded):
    server = start_server(embedded, "smollm2-135m", max_batch=32, batch_wait_ms=20)
    yield server
    server.stop()


def _chat(content, **extra):
    return {"model": "smollm2-135m", "messages": [{"role": "user", "content": content}], **extra}


async def _post_all(url, bodies):
    async with httpx.AsyncClient(timeout=120) as client:
        replies = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
    return [r.json() for r in replies]


def test_batched_logprobs_equal_the_local_model(served, embedded):
    texts = [f"Review: the film was {w}.\nSentiment:" for w in ("great", "awful", "fine", "dull")]
    bodies = [_chat(t, max_tokens=1, temperature=0, logprobs=True, top_logprobs=5) for t in texts]
    before = httpx.get(served.base_url.removesuffix("/v1") + "/health").json()
    replies = asyncio.run(_post_all(served.base_url + "/chat/completions", bodies))
    after = httpx.get(served.base_url.removesuffix("/v1") + "/health").json()
    assert after["items"] - before["items"] == 4
    assert after["batches"] - before["batches"] < 4  # concurrent requests shared a batch
    tok = embedded.tokenizer
    for text, reply in zip(texts, replies, strict=True):
        chat = [{"role": "user", "content": text}]
        ids = embedded.encode(
            tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        )
        row = embedded.next_token_logprobs_ids([ids])[0]  # alone: no batch, no shared prefix
        first = reply["choices"][0]["logprobs"]["content"][0]
        top = first["top_logprobs"]
        assert len(top) == 5 and top[0]["token"] == first["token"]
        assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
        best = int(row.argmax())
        assert first["token"] == tok.decode([best])
        assert first["logprob"] == pytest.approx(float(row[best]), abs=2e-3)
        assert reply["usage"]["prompt_tokens"] == len(ids)
    # RemoteLM reads exactly these numbers for label words found in the top tokens.
    lm = RemoteLM("smollm2-135m", base_url=served.base_url, top_logprobs=5)
    words = [replies[0]["choices"][0]["logprobs"]["content"][0]["top_logprobs"][i]["token"]
             for i in (0, 1)]  # fmt: skip

    async def score():
        try:
            return await lm.score_labels("", texts[:1], [w.strip() or w for w in words])
        finally:
            await lm.aclose()

    scores = asyncio.run(score())[0]
    expected = [
        t["logprob"] for t in replies[0]["choices"][0]["logprobs"]["content"][0]["top_logprobs"][:2]
    ]
    assert scores == pytest.approx(expected, abs=2e-3)


def test_generation_n_stop_completions_and_errors(served):
    url = served.base_url
    body = _chat("Count: 1, 2, 3,", max_tokens=12, temperature=0.9, n=2, stop=["\n\n"])
    r = httpx.post(url + "/chat/completions", json=body, timeout=120).json()
    assert len(r["choices"]) == 2
    assert all(c["finish_reason"] in ("stop", "length") for c in r["choices"])
    assert r["usage"]["completion_tokens"] <= 24
    body = {"model": "smollm2-135m", "prompt": "One, two,", "max_tokens": 6, "temperature": 0}
    c = httpx.post(url + "/completions", json=body | {"stop": [","], "logprobs": 2}, timeout=120)
    c = c.json()
    choice = c["choices"][0]
    assert "," not in choice["text"] and choice["finish_reason"] == "stop"
    assert len(choice["logprobs"]["tokens"]) == len(choice["logprobs"]["top_logprobs"]) >= 1
    models = httpx.get(url + "/models").json()
    assert [m["id"] for m in models["data"]] == ["smollm2-135m"]
    wrong = httpx.post(
        url + "/chat/completions", json=_chat("hi", max_tokens=1) | {"model": "gpt-4"}
    )
    assert wrong.status_code == 404 and "smollm2-135m" in wrong.json()["error"]["message"]
    bad = httpx.post(url + "/chat/completions", json=_chat("hi", temperature=7))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "temperature"


def test_same_small_optimization_local_served_and_ray(tmp_path, served, embedded):
    from flowpo.scale.ray_target import ensure_ray

    ray = ensure_ray(None, num_cpus=2)  # a local Ray with 2 CPUs, no dashboard
    try:
        local = optimize(**TINY, run_dir=tmp_path / "local")
        remote = optimize(**TINY, model=served.spec, concurrency=8, run_dir=tmp_path / "served")
        on_ray = optimize(
            **TINY, model=served.spec, executor="ray", ray_workers=2, run_dir=tmp_path / "ray"
        )
    finally:
        ray.shutdown()
    for result in (local, remote, on_ray):
        assert result["epochs"] == 1 and "max_epochs" in result["stop_reason"]
        assert set(result["final"]) == set(local["final"]) == {"train", "dev"}
        assert all(0 <= v <= 1 for v in result["final"].values())
        assert result["budget"]["examples_scored"] >= 32
        assert (Path(result["run_dir"]) / "best_prompt.md").is_file()
    # The Ray workers talk to the same server: the same numbers as the direct remote run.
    assert on_ray["initial"]["train"] == pytest.approx(remote["initial"]["train"])
    assert on_ray["final"] == pytest.approx(remote["final"])


def test_verbalizer_scoring_needs_logprobs_before_any_work(tmp_path, served):
    from flowpo.scale.preflight import check_remote_logprobs

    asyncio.run(check_remote_logprobs(served.spec))  # serve-model has them: no error
    with pytest.raises(ModelError, match="cannot connect"):
        optimize(**TINY, model="openai-compatible:http://127.0.0.1:9/v1#x", run_dir=tmp_path / "r")
    assert not (tmp_path / "r" / "candidates.jsonl").exists()
