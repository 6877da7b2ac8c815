"""The dequantized-weights cache: file hashes remembered, atomic saves, lazy local models."""

import json
import os
import threading

from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.local import LocalLM
from flowpo.models.weights import cache_root, cached_source, dense_dir, file_sha256, save_dense
from flowpo.prompt import Prompt
from flowpo.tasks.task import Task
from flowpo.types import Example


class FakeConfig:
    def __init__(self):
        self.quantization_config = {"quant_method": "gguf"}


class FakeModel:
    """Writes a weights file the way save_pretrained does; records the config it saw."""

    def __init__(self, delay: threading.Event | None = None):
        self.config = FakeConfig()
        self.saved_quant: list[bool] = []
        self.delay = delay

    def save_pretrained(self, path, safe_serialization=True):
        self.saved_quant.append(hasattr(self.config, "quantization_config"))
        (path / "model.safetensors").write_bytes(b"w" * 1000)
        if self.delay is not None:
            self.delay.wait(5)


class FakeTokenizer:
    def save_pretrained(self, path):
        (path / "tokenizer.json").write_text("{}")


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWPO_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("FLOWPO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x" / "flowpo"


def test_file_hash_is_computed_once_per_size_and_mtime(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"a" * 100)
    first = file_sha256(f, root=tmp_path)
    st = f.stat()
    assert len(json.loads((tmp_path / "hashes.json").read_text())) == 1
    f.write_bytes(b"b" * 100)  # same size; mtime restored: the remembered hash is used
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_sha256(f, root=tmp_path) == first
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: hashed again
    assert file_sha256(f, root=tmp_path) != first


def test_dense_dir_is_keyed_by_version_and_content(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"abc")
    a, b = dense_dir(f, "0.1", root=tmp_path), dense_dir(f, "0.2", root=tmp_path)
    assert a != b and a.name.startswith("m-0.1-")


def test_save_dense_writes_a_whole_directory_without_the_gguf_config(tmp_path):
    model = FakeModel()
    target = tmp_path / "models" / "m-1-abc"
    save_dense(FakeTokenizer(), model, target, {"gguf": "m.gguf"})
    assert sorted(p.name for p in target.iterdir()) == [
        "flowpo-complete.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert model.saved_quant == [False]
    assert hasattr(model.config, "quantization_config")  # restored on the live model
    assert [p.name for p in target.parent.iterdir()] == ["m-1-abc"]  # no temporary left


def test_a_concurrent_reader_never_sees_half_a_cache(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"x" * 10)
    release = threading.Event()
    loads: list[int] = []

    def load():
        loads.append(1)
        return FakeTokenizer(), FakeModel(delay=release)

    writer = threading.Thread(
        target=cached_source, args=(tmp_path, "m.gguf", "1", load), kwargs={"root": tmp_path}
    )
    writer.start()
    while not loads:
        threading.Event().wait(0.01)
    final = dense_dir(gguf, "1", root=tmp_path)
    assert not final.exists()  # being written under a temporary name
    release.set()
    writer.join()
    done = cached_source(tmp_path, "m.gguf", "1", load, root=tmp_path)
    assert done == final and (done / "model.safetensors").stat().st_size == 1000
    assert len(loads) == 1  # the second call reads the cache: no GGUF load


def test_a_second_writer_keeps_the_first_copy(tmp_path):
    target = tmp_path / "models" / "m-1-abc"
    save_dense(FakeTokenizer(), FakeModel(), target, {})
    save_dense(FakeTokenizer(), FakeModel(), target, {})
    assert [p.name for p in target.parent.iterdir()] == ["m-1-abc"]


def test_an_all_cached_evaluation_loads_no_model(tmp_path):
    class Filler(LocalLM):
        def __init__(self):
            super().__init__(dtype="float32")

        def check_words(self, words):
            pass

        async def score_labels(self, prefix, texts, words):
            self.stats.examples += len(texts)
            return [[-0.1, -2.0] for _ in texts]

    task = Task(
        "toy",
        "classification",
        "accuracy",
        ("negative", "positive"),
        {"negative": "no", "positive": "yes"},
        template="{prompt}\n{text}\nAnswer:",
        splits={"train": [Example("a", "fine", "negative"), Example("b", "good", "positive")]},
    )
    cache = EvalCache(tmp_path / "c.sqlite")
    prompt = Prompt.from_text("Sentiment?")
    examples = task.split("train")
    Evaluator(task, Filler(), cache=cache).evaluate(prompt, examples)
    lazy = LocalLM(dtype="float32")
    result = Evaluator(task, lazy, cache=cache).evaluate(prompt, examples)
    assert result.cached == 2 and result.model_calls == 0
    assert not lazy.loaded


class RandomTokenizer:
    pad_token_id = 0
    padding_side = "right"

    def __call__(self, texts, **kwargs):
        import torch

        ids = torch.ones((len(texts), 3), dtype=torch.long)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def batch_decode(self, rows, skip_special_tokens=True):
        return [" ".join(str(int(t)) for t in row) for row in rows]


class RandomModel:
    """Samples tokens from torch's global generator, as ``generate(do_sample=True)`` does."""

    def generate(self, input_ids, attention_mask, max_new_tokens, pad_token_id, **sampling):
        import torch

        new = torch.randint(1, 1000, (input_ids.shape[0], max_new_tokens))
        return torch.cat([input_ids, new], dim=1)


def sampler():
    lm = LocalLM(dtype="float32")
    lm.tokenizer, lm.model = RandomTokenizer(), RandomModel()
    return lm


def test_sampling_is_seeded_per_request():
    import torch

    lm = sampler()
    a = lm.generate_sync(["write a prompt"], temperature=0.7, seed=3)
    torch.rand(5)  # whatever ran before does not matter
    assert lm.generate_sync(["write a prompt"], temperature=0.7, seed=3) == a
    assert lm.generate_sync(["write a prompt"], temperature=0.7, seed=4) != a
    assert lm.generate_sync(["another request"], temperature=0.7, seed=3) != a
    state = torch.random.get_rng_state()
    lm.generate_sync(["write a prompt"], temperature=0.7, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is left alone
