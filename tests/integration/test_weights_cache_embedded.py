"""The dequantized-weights cache gives exactly the GGUF file's numbers."""

import pytest
import torch

from flowpo.models.loading import load_causal_lm
from flowpo.models.weights import cache_root

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cached_weights_give_identical_logits_to_the_gguf_load(dtype):
    tok_c, cached = load_causal_lm("smollm2-135m", "cpu", dtype)
    tok_g, gguf = load_causal_lm("smollm2-135m", "cpu", dtype, cache=False)
    assert any((cache_root() / "models").glob("SmolLM2-135M-Instruct.Q4_1-*"))
    texts = ["Review: a gripping, funny film.\nSentiment:", "Translate to French: cat"]
    for text in texts:
        assert tok_c.encode(text) == tok_g.encode(text)
        ids = torch.tensor([tok_c.encode(text)])
        with torch.inference_mode():
            assert torch.equal(cached(input_ids=ids).logits, gguf(input_ids=ids).logits)
    chat = [{"role": "user", "content": "hi"}]
    assert tok_c.apply_chat_template(chat, tokenize=False) == tok_g.apply_chat_template(
        chat, tokenize=False
    )
    for name, a in cached.state_dict().items():
        assert torch.equal(a, gguf.state_dict()[name]), name
