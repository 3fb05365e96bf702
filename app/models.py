"""Chat models by name, resolved where they are used.

Names: ``offline`` (a deterministic model that runs with no network and says
so in its output) or ``openai:<model>`` (any OpenAI-compatible endpoint via
``langchain-openai``; ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``). The seed's
``openai/<model>`` spelling is accepted too. No model object lives at module
level: callers resolve a name each time, so tests can substitute their own.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from app.errors import InvalidInput
from app.settings import Settings

OFFLINE_MARKER = "[offline model]"


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token) for offline accounting.

    tiktoken would download its encodings at first use, which cannot work here.
    """
    return max(1, (len(text) + 3) // 4)


class OfflineChatModel(BaseChatModel):
    """Deterministic stand-in for an LLM, for tests and the offline demo.

    It does not understand anything: it answers with a marked, reproducible
    digest of its input, and reports token usage estimated from text length.
    """

    model_name: str = "offline"

    @property
    def _llm_type(self) -> str:
        return "spaces-offline"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        last = str(messages[-1].content).strip() if messages else ""
        text = f"{OFFLINE_MARKER} {last[:500]}"
        usage = {
            "input_tokens": estimate_tokens(prompt),
            "output_tokens": estimate_tokens(text),
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        message = AIMessage(content=text, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])


def resolve_chat_model(name: str, settings: Settings) -> BaseChatModel:
    """Build the chat model called ``name``."""
    if name == "offline":
        return OfflineChatModel()
    for prefix in ("openai:", "openai/"):
        if name.startswith(prefix) and len(name) > len(prefix):
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(
                model=name[len(prefix) :],
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key or "unset",
                max_retries=2,
            )
    raise InvalidInput(f"unknown model {name!r}: use 'offline' or 'openai:<model>'")
