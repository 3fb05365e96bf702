"""Chat models by name, resolved where they are used.

Names: ``offline`` (see ``app.llm.offline``) or ``openai:<model>`` (any
OpenAI-compatible endpoint via ``langchain-openai``; ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY``). The seed's ``openai/<model>`` spelling is accepted too.
A comma-separated list is a fallback chain (seed 003's routing): the next
model answers when one fails after its own retries. No model object lives at
module level, so tests substitute their own names and endpoints: a
``scripted:<name>`` model resolves only to a factory the test put in its
``Settings.scripted_models`` (node tests script their model's answers).
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from app.errors import InvalidInput
from app.llm.offline import OfflineChatModel
from app.settings import Settings

MAX_OUTPUT_TOKENS = 2_000
MODEL_NAME_MAX = 200
SCRIPTED = "scripted:"


def model_names(spec: str) -> list[str]:
    """Split and check a model spec (``a`` or ``a,b,c``)."""
    if not isinstance(spec, str) or not spec.strip() or len(spec) > MODEL_NAME_MAX:
        raise InvalidInput(f"model must be 1 to {MODEL_NAME_MAX} characters")
    names = [n.strip() for n in spec.split(",")]
    for name in names:
        if name != "offline" and not (
            name.startswith(("openai:", "openai/", SCRIPTED)) and len(name) > len("openai:")
        ):
            raise InvalidInput(f"unknown model {name!r}: use 'offline' or 'openai:<model>'")
    return names


def resolve_chat_model(name: str, settings: Settings) -> BaseChatModel:
    """Build the single chat model called ``name``."""
    (checked,) = model_names(name)
    if checked == "offline":
        return OfflineChatModel()
    if checked.startswith(SCRIPTED):
        return scripted_factory(checked, settings)()
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=checked[len("openai:") :],
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or "unset",
        max_retries=2,  # the OpenAI client backs off on 429 and 5xx, honouring Retry-After
        max_tokens=MAX_OUTPUT_TOKENS,
        timeout=120,
    )


def scripted_factory(name: str, settings: Settings) -> Callable[[], BaseChatModel]:
    """The factory a test registered for ``name``, or ``InvalidInput`` (never in production)."""
    factories = dict(settings.scripted_models)
    if name not in factories:
        raise InvalidInput(f"unknown model {name!r}: use 'offline' or 'openai:<model>'")
    return factories[name]


def resolve_chain(
    spec: str,
    settings: Settings,
    shape: Callable[[BaseChatModel], Runnable] = lambda m: m,
) -> Runnable:
    """The model spec as one runnable: each model ``shape``d, then chained as fallbacks.

    ``shape`` binds tools or structured output to each model before chaining,
    because a fallback chain itself cannot be bound.
    """
    runnables = [shape(resolve_chat_model(n, settings)) for n in model_names(spec)]
    if len(runnables) == 1:
        return runnables[0]
    return runnables[0].with_fallbacks(runnables[1:])
