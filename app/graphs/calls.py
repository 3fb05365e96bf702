"""Model calls made by graph nodes: budget-checked, counted once, resolved by name.

Each call (1) moves its estimated tokens from the run's hold into a call
hold (``budget.py``), (2) invokes the run's model chain with a callback that
reads the provider's real ``usage_metadata``, and (3) replaces the hold by
that usage in one transaction, under an idempotency key built from the
node's checkpoint position. A node that re-runs after a crash makes the same
keys, so its calls are counted once (the re-run's tokens are not charged
again). Nodes reach this through ``Scope.ask``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import openai
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from app.errors import BudgetExceeded, ContextTooSmall, ModelUnavailable
from app.llm.fit import fit_request, tools_tokens
from app.llm.offline import estimate_tokens
from app.llm.pricing import cost_usd
from app.llm.resolve import MAX_OUTPUT_TOKENS, model_names, resolve_chain
from app.llm.structured import MethodRefused, UnparsedOutput, bind_structured, other, unparsed
from app.llm.window import base_name, chain_window, learn, stated_window
from app.settings import Settings
from app.spaces.stores.budget import SpaceBudget
from app.spaces.stores.documents import documents_for_prompt, open_documents_section
from app.spaces.stores.handle import SpaceHandle


class UsageRecorder(BaseCallbackHandler):
    """Collects the token usage providers report for each model call."""

    def __init__(self) -> None:
        self.models: dict[UUID, str] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember which model this call went to, for its price."""
        self.models[run_id] = str((metadata or {}).get("ls_model_name") or "unknown")

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Add the call's reported usage (fallback models that failed report none)."""
        model = self.models.get(run_id, "unknown")
        for generations in response.generations:
            for generation in generations:
                usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
                if usage:
                    tokens_in = int(usage.get("input_tokens", 0))
                    self.add(model, tokens_in, int(usage.get("output_tokens", 0)))

    def add(self, model: str, tokens_in: int, tokens_out: int) -> None:
        """Count one call's usage and price."""
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        self.cost_usd += cost_usd(model, tokens_in, tokens_out)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of every call seen."""
        return self.input_tokens + self.output_tokens


def _provider_errors() -> tuple[type[BaseException], ...]:
    from pydantic import ValidationError

    # A model that answers with arguments our schema refuses is a provider failure too.
    return (openai.OpenAIError, ValidationError)


def _cut_off(exc: openai.LengthFinishReasonError, recorder: UsageRecorder) -> AIMessage:
    """The answer the client refused to parse because it hit the length limit, and its usage.

    With ``response_format`` the OpenAI client raises instead of returning a
    cut JSON object; the tokens were spent all the same.
    """
    done = exc.completion
    if done.usage is not None:
        recorder.add(done.model, done.usage.prompt_tokens, done.usage.completion_tokens)
    content = done.choices[0].message.content if done.choices else ""
    return AIMessage(content=content or "", response_metadata={"finish_reason": "length"})


def call_key(config: RunnableConfig, seq: int) -> str:
    """A key for the ``seq``-th call of this node execution, stable across re-runs."""
    meta = config.get("metadata") or {}
    thread = (config.get("configurable") or {}).get("thread_id", "no-thread")
    where = f"{meta.get('langgraph_checkpoint_ns', '')}|{meta.get('langgraph_step', '')}|{seq}"
    return f"{thread}:{hashlib.sha256(where.encode()).hexdigest()[:32]}"


def thread_id_of(config: RunnableConfig) -> str | None:
    """The run's thread id, if it has one."""
    return (config.get("configurable") or {}).get("thread_id")


@dataclass(frozen=True)
class CallResult:
    """What a call answered, and the space's month totals after it was counted."""

    answer: Any
    tokens_used: int
    api_calls_used: int
    cost_usd: float
    fitted: tuple[str, ...] = ()  # what was dropped or cut to fit the context window


def with_open_documents(space: SpaceHandle, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages with the space's "OPEN DOCUMENTS" section after the system prompt.

    Before every model call, the latest active version of each active object
    of the (active) space is injected, cut to its token cap.
    """
    section = open_documents_section(documents_for_prompt(space))
    out = list(messages)
    if section:
        at = 1 if out and isinstance(out[0], SystemMessage) else 0
        out.insert(at, SystemMessage(section))
    return out


# LangGraph's own messages stream skips "nostream"; Aegra's, and LangSmith, "langsmith:nostream".
NOSTREAM = ["nostream", "langsmith:nostream"]


def call_config(recorder: Any, schema: type[BaseModel] | None) -> dict[str, Any]:
    """The call's own config: its usage recorder and, for internal calls, ``langsmith:nostream``.

    A structured-output call (a plan, key facts, relevant ids) is the
    graph's own business: tagged so, the LangGraph server leaves it out of
    the ``messages`` stream, and stock UIs do not render it as the
    assistant's message or tool call. What the graph says to the user
    reaches them through the state's ``messages`` instead.
    """
    extra: dict[str, Any] = {"callbacks": [recorder]}
    if schema is not None:
        extra["tags"] = list(NOSTREAM)
    return extra


def invoke_model(
    space: SpaceHandle,
    budget: SpaceBudget,
    settings: Settings,
    config: RunnableConfig,
    *,
    model: str,
    messages: Sequence[BaseMessage],
    schema: type[BaseModel] | None = None,
    tools: Sequence[Any] = (),
    seq: int = 0,
    max_output: int = MAX_OUTPUT_TOKENS,
    share: int | None = None,
    flipped: bool = False,
) -> CallResult:
    """Call ``model`` under the space's budget; the answer is the model's message.

    With a ``schema``, the message carries the structured answer by each
    model's method (the other method when ``flipped``); ``Scope.ask`` parses
    and checks it. A server's HTTP 400 then raises ``MethodRefused``, so the
    caller can try the other method.

    Raises ``BudgetExceeded`` before calling when neither the run's hold nor
    the space can cover the call's estimate (its prompt plus ``max_output``,
    which also caps the model's answer), or when the estimate passes ``share``.
    Every request is fitted into the model's context window first
    (``app.llm.fit``); one that cannot fit raises ``ContextTooSmall`` unsent,
    and so does a server's refusal of a request as too long.
    """
    messages = with_open_documents(space, messages)
    window = chain_window(model_names(model), settings)
    definitions = [schema.model_json_schema()] if schema is not None else []
    definitions += [convert_to_openai_tool(t) for t in tools]
    messages, max_output, fitted = fit_request(
        messages, window, max_output, tools_tokens(definitions, window.count), model
    )
    prompt = "\n".join(str(m.content) for m in messages)
    estimate = estimate_tokens(prompt) + max_output
    if share is not None and estimate > share:
        raise BudgetExceeded(f"this call needs about {estimate} tokens; its share is {share}")
    thread_id = thread_id_of(config)
    hold = budget.reserve(estimate, thread_id=thread_id)

    def shape(chat_model: Any, method: str) -> Any:
        if max_output != MAX_OUTPUT_TOKENS and "max_tokens" in type(chat_model).model_fields:
            chat_model = chat_model.model_copy(update={"max_tokens": max_output})
        if schema is not None:
            return bind_structured(chat_model, schema, other(method) if flipped else method)
        if tools:
            return chat_model.bind_tools(list(tools))
        return chat_model

    recorder = UsageRecorder()

    def settle() -> tuple[int, int, float]:
        return budget.settle(
            hold,
            recorder.total_tokens,
            recorder.cost_usd,
            idempotency_key=call_key(config, seq),
            thread_id=thread_id,
        )

    try:
        runnable = resolve_chain(model, settings, shape)
        try:
            result = runnable.invoke(
                list(messages), merge_configs(config, call_config(recorder, schema))
            )
        except openai.LengthFinishReasonError as exc:
            result = _cut_off(exc, recorder)  # an answer, if too long: the caller re-asks
        except _provider_errors() as exc:
            # After the client's retries and every fallback: one line, and the run resumes later.
            failure = ModelUnavailable(f"{type(exc).__name__}: {exc}")
            status = getattr(exc, "status_code", None)
            if status == 400 and (stated := stated_window(str(exc))) is not None:
                if settings.openai_base_url:
                    learn(settings.openai_base_url, base_name(model_names(model)[0]), stated)
                raise ContextTooSmall(
                    f"the server refused the request as too long for its context: {exc}"[:300]
                ) from exc
            if (schema is not None or tools) and unparsed(status, str(exc)):
                raise UnparsedOutput(str(exc)) from exc  # the model's output: re-asked
            if schema is not None and status == 400:
                raise MethodRefused(failure) from exc
            raise failure from exc
    except BaseException:
        # A call that failed after its model answered (a parse error) still spent tokens.
        if recorder.total_tokens:
            settle()
        else:
            budget.release(hold)
        raise
    tokens, calls, cost = settle()
    return CallResult(result, tokens, calls, cost, tuple(fitted))
