"""A scripted chat model for node tests, as deepagents tests its nodes.

``Script`` holds the answers a test wants, in order; ``scripted_settings``
registers it under a ``scripted:<name>`` model name in a copy of the
test's settings (``Settings.scripted_models``), so the graph code resolves it
by name like any other model: no model object is handed to a node.
The script records what each call was asked and which tools were bound.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from app.settings import Settings

_names = itertools.count()


class Script:
    """Answers to give, in order, and a record of the calls that took them."""

    def __init__(self, *answers: AIMessage):
        self.answers = list(answers)
        self.prompts: list[list[BaseMessage]] = []
        self.bound: list[list[str]] = []

    def next(self, messages: list[BaseMessage]) -> AIMessage:
        """The next answer (with usage, as providers report it); fails when the script is out."""
        self.prompts.append(list(messages))
        if not self.answers:
            raise AssertionError("the model was called more often than the test scripted")
        answer = self.answers.pop(0)
        return answer.model_copy(
            update={"usage_metadata": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}
        )


class ScriptedChatModel(BaseChatModel):
    """Answers from a ``Script``; ``bind_tools`` records the tools and returns itself."""

    script: Any

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.script.next(messages))])

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        """Record the tool names; structured output arrives as a scripted tool call."""
        self.script.bound.append(
            [getattr(t, "name", None) or getattr(t, "__name__", str(t)) for t in tools]
        )
        return self


def scripted_settings(settings: Settings, script: Script) -> tuple[Settings, str]:
    """A copy of ``settings`` in which the returned model name answers from ``script``."""
    name = f"scripted:t{next(_names)}"
    factory = lambda: ScriptedChatModel(script=script)  # noqa: E731
    return dataclasses.replace(settings, scripted_models=((name, factory),)), name


def tool_call(name: str, args: dict[str, Any], call_id: str = "call-1") -> AIMessage:
    """An answer that calls one tool (structured output is a tool call too)."""
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])
