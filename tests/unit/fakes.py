"""Scripted chat models for unit tests (never used by the package)."""

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field


class Recorder(BaseChatModel):
    """Answer from a script (a list used in order, or a function of the messages) and record
    every conversation it receives; an Exception in the script is raised."""

    script: Any = None
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recorder"

    def _answer(self, messages: list[BaseMessage]) -> ChatResult:
        self.seen.append(list(messages))
        if callable(self.script):
            out = self.script(messages)
        else:
            out = self.script[(len(self.seen) - 1) % len(self.script)]
        if isinstance(out, Exception):
            raise out
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=out))])

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return self._answer(messages)

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        return self._answer(messages)
