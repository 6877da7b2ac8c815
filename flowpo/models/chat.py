"""A LangChain chat model over a local causal LM, so every model is called the same way."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult, LLMResult
from langchain_core.runnables.config import ensure_config, get_async_callback_manager_for_config
from pydantic import ConfigDict, Field, SecretStr

from flowpo.models.local import LocalLM

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


class LocalChatModel(BaseChatModel):
    """Chat with a local model through its chat template (operators and reflectors use it).

    Example:
        >>> from flowpo.models.chat import LocalChatModel
        >>> LocalChatModel.__name__
        'LocalChatModel'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    lm: LocalLM = Field(description="The loaded local model.")
    max_new_tokens: int = Field(256, description="Longest answer, in tokens.")
    temperature: float = Field(0.0, description="0 for greedy decoding.")
    top_p: float = Field(0.9, description="Nucleus sampling mass when temperature > 0.")
    seed: int | None = Field(
        None,
        description="Seeds sampling per request (with a hash of the request): the same "
        "conversation and seed give the same answer. None: torch's global generator.",
    )

    @property
    def _llm_type(self) -> str:
        return "flowpo-local"

    def _prompt_text(self, messages: list[BaseMessage]) -> str:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        return str(
            self.lm.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        )

    def generate_texts(self, conversations: list[list[BaseMessage]]) -> list[str]:
        """Answer several conversations in one batched decode (what ``abatch`` uses)."""
        texts = [self._prompt_text(c) for c in conversations]
        outs = self.lm.generate_sync(
            texts,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )
        return [o.strip() for o in outs]

    async def abatch(
        self,
        inputs: list[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Answer many inputs with one batched generation instead of one call each.

        Every input is still its own traced chat-model run (callbacks from ``config`` or
        from the calling node), so traces show each model call.
        """
        conversations = [self._convert_input(i).to_messages() for i in inputs]
        cfg = ensure_config(config[0] if isinstance(config, list) else config)
        manager = get_async_callback_manager_for_config(cfg)
        runs = await manager.on_chat_model_start(
            self._serialized,
            conversations,
            invocation_params=self._get_invocation_params(),
            name=cfg.get("run_name"),
            batch_size=len(conversations),
        )
        try:
            outs = await asyncio.to_thread(self.generate_texts, conversations)
        except Exception as e:  # noqa: BLE001 - reported per input, as abatch does
            for run in runs:
                await run.on_llm_error(e)
            if return_exceptions:
                return [e for _ in inputs]
            raise
        messages = [AIMessage(content=o) for o in outs]
        for run, message in zip(runs, messages, strict=True):
            result = LLMResult(generations=[[ChatGeneration(message=message)]])
            await run.on_llm_end(result)
        return list(messages)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        out = self.generate_texts([messages])[0]
        for s in stop or []:
            out = out.split(s)[0]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=out.strip()))])


def load_chat_model(spec: str, **options: Any) -> BaseChatModel:
    """Return a LangChain chat model for ``spec`` (local, OpenAI or OpenAI-compatible)."""
    from flowpo.models.spec import load_target, parse_spec

    parsed = parse_spec(spec)
    if parsed.provider == "local":
        lm = load_target(spec, **options)
        if not isinstance(lm, LocalLM):  # pragma: no cover - parse_spec guarantees it
            raise TypeError(f"{spec!r} did not load a local model")
        return LocalChatModel(lm=lm)
    from langchain_openai import ChatOpenAI

    key = options.get("api_key") or ("EMPTY" if parsed.base_url else None)
    # The openai client retries timeouts, 429 and 5xx with jittered exponential backoff;
    # what still fails is a failed action for the operator (operators.llm.ask_each).
    return ChatOpenAI(
        model=parsed.model,
        base_url=parsed.base_url,
        temperature=0,
        api_key=SecretStr(key) if key else None,
        timeout=options.get("timeout", 60.0),
        max_retries=options.get("max_retries", 4),
    )
