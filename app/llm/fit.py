"""Fitting a request into the model's context window before it is sent.

The prompt builders trim what they own by rank (``fit_parts``: research
context, sources, earlier deliverables); ``fit_request`` is the last guard
every model call goes through. It sizes the answer (``output_cap``), then,
while the prompt is too long, drops the oldest re-ask or tool turns (the
first prompt and the last turn stay), then cuts the middle of the longest
message. A request that still cannot fit with room for a minimal answer is
never sent: ``ContextTooSmall``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from app.errors import ContextTooSmall
from app.llm.window import MESSAGE_OVERHEAD, Window

MIN_OUTPUT = 256  # the least room an answer gets (a small plan as JSON)
CUT_MARK = "\n[... cut to fit the model's context window ...]\n"


def margin(window: Window) -> int:
    """Slack for the chat template and tokenizer differences (2% and 32 tokens)."""
    return 32 + window.tokens // 50


def output_cap(window: Window, max_output: int) -> int:
    """The answer's token cap: ``max_output``, but at most an eighth of a small window.

    A small window means a small (and often slow, local) model: SmolLM2 on
    llama-server with 8192 tokens rambled to a 2000-token cap at 16 tokens/s,
    past the client's 120 s timeout (which then re-sent the request).
    """
    return min(max_output, max(MIN_OUTPUT, window.tokens // 8))


def prompt_room(window: Window, max_output: int) -> int:
    """Tokens the prompt may take, with the answer's cap and the margin kept free."""
    return window.tokens - output_cap(window, max_output) - margin(window)


def _text(message: BaseMessage) -> str:
    content = message.content
    text = content if isinstance(content, str) else json.dumps(content)
    calls = getattr(message, "tool_calls", None)
    return text + (json.dumps(calls) if calls else "")


def count_messages(messages: Sequence[BaseMessage], count: Callable[[str], int]) -> int:
    """Tokens of the messages as a chat template lays them out."""
    return sum(count(_text(m)) + MESSAGE_OVERHEAD for m in messages)


def tools_tokens(specs: Sequence[Any], count: Callable[[str], int]) -> int:
    """Tokens the tool or schema definitions take in the prompt (templates print them)."""
    return count(json.dumps(list(specs), default=str)) if specs else 0


def _groups(messages: list[BaseMessage]) -> list[list[BaseMessage]]:
    """Turns: each starts at an AI message and takes what follows it (tool results, re-asks)."""
    groups: list[list[BaseMessage]] = []
    for message in messages:
        if isinstance(message, AIMessage) or not groups:
            groups.append([message])
        else:
            groups[-1].append(message)
    return groups


def _cut_middle(text: str, drop_chars: int) -> str:
    keep = max(0, len(text) - drop_chars - len(CUT_MARK))
    head = keep * 2 // 3
    return text[:head] + CUT_MARK + text[len(text) - (keep - head) :] if keep else CUT_MARK


def fit_messages(
    messages: Sequence[BaseMessage], room: int, count: Callable[[str], int]
) -> tuple[list[BaseMessage], list[str]]:
    """The messages within ``room`` tokens, and what was dropped or cut to get there."""
    out, changes = list(messages), []
    first = next((i for i, m in enumerate(out) if not isinstance(m, SystemMessage)), len(out))
    head, rest = out[: first + 1], out[first + 1 :]
    groups = _groups(rest)
    while count_messages(head + [m for g in groups for m in g], count) > room and len(groups) > 1:
        groups.pop(0)
        changes.append("dropped an earlier turn")
    out = head + [m for g in groups for m in g]
    for _ in range(4):  # the longest message, cut in the middle (a few passes: counts are rough)
        over = count_messages(out, count) - room
        if over <= 0:
            break
        at = max(range(len(out)), key=lambda i: len(_text(out[i])))
        text = out[at].content if isinstance(out[at].content, str) else _text(out[at])
        chars_per_token = max(1.0, len(text) / max(1, count(text)))
        cut = _cut_middle(text, int((over + 16) * chars_per_token) + 1)
        out[at] = out[at].model_copy(update={"content": cut})
        changes.append(f"cut message {at + 1} to fit")
    return out, changes


def fit_request(
    messages: Sequence[BaseMessage],
    window: Window,
    max_output: int,
    extra_tokens: int = 0,
    name: str = "the model",
) -> tuple[list[BaseMessage], int, list[str]]:
    """``(messages, max_output, changes)`` that fit ``window``, or ``ContextTooSmall``.

    ``extra_tokens`` are what the prompt carries besides the messages (tool
    and schema definitions).
    """
    cap = output_cap(window, max_output)
    room = window.tokens - cap - margin(window) - extra_tokens
    if room < MESSAGE_OVERHEAD * 4:
        raise ContextTooSmall(
            f"{name}'s context ({window.tokens} tokens) has no room for this request"
        )
    count = functools.lru_cache(maxsize=256)(window.count)  # one tokenizer call per text
    fitted, changes = fit_messages(messages, room, count)
    used = count_messages(fitted, count) + extra_tokens
    if used + MIN_OUTPUT + margin(window) > window.tokens:
        raise ContextTooSmall(
            f"this request needs about {used} tokens; {name}'s context is {window.tokens}"
        )
    return fitted, min(cap, window.tokens - used - margin(window)), changes


def fit_parts(
    fixed: str, parts: Sequence[str], room: int, count: Callable[[str], int], sep: str = "\n"
) -> tuple[list[str], int]:
    """The leading ``parts`` (best first) that fit in ``room`` beside ``fixed``; how many left out.

    The first part that does not fit whole is cut at the end when at least a
    fifth of it would stay, so a single long part still gives something.
    """
    left = room - count(fixed)
    kept: list[str] = []
    for n, part in enumerate(parts):
        need = count(part + sep)
        if need <= left:
            kept.append(part)
            left -= need
            continue
        share = left / max(1, need)
        if share >= 0.2:
            kept.append(part[: int(len(part) * share * 0.95)].rstrip() + " [...]")
            return kept, len(parts) - n - 1
        return kept, len(parts) - n
    return kept, 0
