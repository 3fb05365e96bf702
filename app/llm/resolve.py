"""Chat models by name, resolved where they are used.

Names: ``offline`` (see ``app.llm.offline``) or ``openai:<model>`` (any
OpenAI-compatible endpoint via ``langchain-openai``; ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY``). The seed's ``openai/<model>`` spelling is accepted too.
An ``openai:`` name may end in ``@json_schema`` or ``@tools``: the model's
structured-output method (``app.llm.structured``). A comma-separated list is
a fallback chain (seed 003's routing): the next model answers when one fails
after its own retries. No model object lives at module level, so tests
substitute their own names and endpoints: a ``scripted:<name>`` model
resolves only to a factory the test put in its ``Settings.scripted_models``
(node tests script their model's answers).
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from app.errors import InvalidInput
from app.llm.names import MODEL_NAME_MAX, SCRIPTED, model_names, split_method
from app.llm.offline import OfflineChatModel
from app.llm.structured import DEFAULT_METHOD

__all__ = ["MODEL_NAME_MAX", "SCRIPTED", "model_names"]  # and what is defined below
from app.settings import Settings

MAX_OUTPUT_TOKENS = 2_000


def check_reachable(spec: str, settings: Settings) -> str:
    """Refuse a spec naming an ``openai:`` model when no key and no endpoint are set.

    Without either, the client would connect to the public endpoint with a
    made-up key: refused here, before any connection.
    """
    for name in model_names(spec):
        if name.startswith(("offline", SCRIPTED)):
            continue
        if not settings.openai_api_key and not settings.openai_base_url:
            raise InvalidInput(
                f"model {name!r} needs OPENAI_API_KEY or OPENAI_BASE_URL; neither is set"
            )
    return spec


def resolve_chat_model(name: str, settings: Settings) -> BaseChatModel:
    """Build the single chat model called ``name`` (its method suffix is not sent)."""
    (checked,) = model_names(name)
    base, _method = split_method(checked)
    if base == "offline":
        return OfflineChatModel()
    if checked.startswith(SCRIPTED):
        return scripted_factory(checked, settings)()
    check_reachable(checked, settings)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=base[len("openai:") :],
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or "unset",  # a local server needs none
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
    shape: Callable[[BaseChatModel, str], Runnable] = lambda m, method: m,
) -> Runnable:
    """The model spec as one runnable: each model ``shape``d, then chained as fallbacks.

    ``shape(model, method)`` binds tools or structured output to each model
    (``method`` is its structured-output method) before chaining, because a
    fallback chain itself cannot be bound.
    """
    runnables = []
    for name in model_names(spec):
        method = split_method(name)[1] or DEFAULT_METHOD
        runnables.append(shape(resolve_chat_model(name, settings), method))
    if len(runnables) == 1:
        return runnables[0]
    return runnables[0].with_fallbacks(runnables[1:])
