"""The prompt-LM: a causal LM with a LoRA adapter; ``p_ref`` is the same model, adapter off.

The model is loaded by :func:`flowpo.models.local.load_causal_lm` (the embedded GGUF is
dequantized there) and then deep-copied, so the adapter never touches a target model that
shares the same weights.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from flowpo.errors import ModelError
from flowpo.gfn.settings import GfnSettings
from flowpo.models.device import pick_device
from flowpo.models.local import load_causal_lm


def load_prompt_lm(settings: GfnSettings) -> tuple[Any, Any]:
    """Return (tokenizer, peft model) with a fresh LoRA adapter; raise ``ModelError`` if unfit."""
    from peft import LoraConfig, get_peft_model

    device = pick_device(settings.device)
    try:
        tokenizer, base = load_causal_lm(settings.model, device, settings.dtype)
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(
            f"cannot load {settings.model!r} as a causal LM ({type(e).__name__}: {e})"[:400],
            where=settings.model,
            field="gfn_model",
            fix="give a local causal-LM directory or .gguf file, or 'smollm2-135m'",
        ) from None
    if not hasattr(base, "generate") or not hasattr(base, "get_output_embeddings"):
        raise ModelError(
            f"{settings.model!r} is not a causal LM",
            field="gfn_model",
            fix="give a model with a language-modelling head",
        )
    targets = [t.strip() for t in settings.lora_targets.split(",") if t.strip()]
    config = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    try:
        model = get_peft_model(copy.deepcopy(base), config)
    except ValueError as e:
        raise ModelError(
            f"LoRA target modules {targets} not found in {settings.model!r} ({e})"[:400],
            field="gfn_lora_targets",
            fix="name linear layers of the model, e.g. q_proj,v_proj",
        ) from None
    model.to(device)
    return tokenizer, model


def encode_texts(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Return each prompt's token ids as continued after the pre-fill, EOS appended."""
    eos = tokenizer.eos_token_id
    return [
        list(tokenizer.encode(" " + t.strip(), add_special_tokens=False)) + [eos] for t in texts
    ]


def _pad(seqs: list[list[int]], pad: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=device)
    mask = torch.tensor([[1.0] * len(s) + [0.0] * (width - len(s)) for s in seqs], device=device)
    return ids, mask  # [B, L], [B, L]


def _inner(model: Any) -> tuple[Any, Any]:
    """Return (decoder stack, lm_head) under the peft wrapper (LoRA layers are inside)."""
    lm = model.get_base_model()
    return lm.model, lm.lm_head


def _sum_logprobs(
    lm_head: Any, hidden: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    logits = lm_head(hidden).float()  # [B, L, V]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(dim=1)  # [B]


def policy_logprobs(model: Any, prefix: list[int], seqs: list[list[int]], pad: int) -> torch.Tensor:
    """Return ``[B]`` summed log q(z|M) with the adapter on, differentiable.

    One padded forward over ``prefix + z``; right padding needs no attention mask
    (causal attention never lets a real token see a later pad). Only the hidden states
    that predict ``z`` meet the output layer.
    """
    device = str(next(model.parameters()).device)
    body, head = _inner(model)
    z, mask = _pad(seqs, pad, device)
    batch, plen = len(seqs), len(prefix)
    ids = torch.cat([torch.tensor([prefix], device=device).expand(batch, -1), z], dim=1)
    hidden = body(input_ids=ids, use_cache=False).last_hidden_state  # [B, P+L, H]
    return _sum_logprobs(head, hidden[:, plen - 1 : -1], z, mask)


@torch.no_grad()
def reference_logprobs(
    model: Any, prefix: list[int], seqs: list[list[int]], pad: int
) -> torch.Tensor:
    """Return ``[B]`` summed log p_ref(z|M): adapter off, the prefix run once and shared."""
    from transformers import DynamicCache

    device = str(next(model.parameters()).device)
    body, head = _inner(model)
    z, mask = _pad(seqs, pad, device)
    batch, plen = len(seqs), len(prefix)
    with model.disable_adapter():
        out = body(input_ids=torch.tensor([prefix], device=device), use_cache=True)
        kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        cache = DynamicCache(
            ddp_cache_data=[
                (k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv
            ]
        )
        positions = torch.arange(plen, plen + z.shape[1], device=device).expand(batch, -1)
        rest = body(input_ids=z, past_key_values=cache, position_ids=positions).last_hidden_state
        hidden = torch.cat([out.last_hidden_state[:, -1:].expand(batch, -1, -1), rest], dim=1)
        return _sum_logprobs(head, hidden[:, :-1], z, mask)


@torch.no_grad()
def sample(
    model: Any,
    tokenizer: Any,
    prefix: list[int],
    n: int,
    *,
    temperature: float,
    top_p: float,
    max_tokens: int,
) -> list[str]:
    """Sample ``n`` instructions after ``prefix`` with the adapter on (tempered, nucleus)."""
    device = str(next(model.parameters()).device)
    ids = torch.tensor([prefix] * n, device=device)
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        top_k=0,
        max_new_tokens=max_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    texts = tokenizer.batch_decode(out[:, len(prefix) :], skip_special_tokens=True)
    return [" ".join(t.split()) for t in texts]


def adapter_state(model: Any) -> dict[str, torch.Tensor]:
    """Return the LoRA weights only (what is saved as safetensors)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}


def save_tensors(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` to ``path`` as safetensors, atomically (a crash leaves the old file)."""
    from safetensors.torch import save_file

    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)


def save_adapter(model: Any, path: Path) -> None:
    """Write the adapter's weights to ``path`` (safetensors, atomically)."""
    save_tensors(adapter_state(model), path)


def load_adapter(model: Any, path: Path) -> None:
    """Load adapter weights saved by :func:`save_adapter`."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(path)))
