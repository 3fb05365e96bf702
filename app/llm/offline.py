"""The ``offline`` chat model: deterministic, network-free, and says so in its output.

It understands nothing. It reads the tagged sections our prompts use
(``<task>``, ``<query>``, ``<source id= ref=>``, ``<step>``, ``<feedback>``,
``<research>``; see ``app/graphs/*/prompts.py``) and composes a reproducible
answer from them:

- research: quotes the source passages that share the most words with the
  query, verbatim, each with its ``[n]`` citation;
- structured output for our schemas (``Plan``, ``KeyFacts``, ``Relevant``),
  by either method: a forced tool call or ``response_format: json_schema``;
- tool calls: asks for ``http_get`` when a step (or an agent's instruction)
  names a URL and has no result yet;
- chat (``app/graphs/chat/prompts.py``): a task plan (``TaskPlan``) that
  splits the request at ``;`` into independent tasks and at ``then`` into
  dependent ones, each given to the listed agent sharing the most words with
  it; an agent's answer that says what it was asked and which context it got;
  a summary that lists the turns it replaces.

Token usage is estimated from text length and reported in ``usage_metadata``
like a real provider's, so budgets and accounting run unchanged offline.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from app.text import STOPWORDS, words

OFFLINE_MARKER = "[offline model]"
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token) for offline accounting.

    tiktoken would download its encodings at first use, which cannot work here.
    """
    return max(1, (len(text) + 3) // 4)


def _tag(text: str, name: str) -> str:
    m = re.search(rf"<{name}>(.*?)</{name}>", text, re.S)
    return html.unescape(m.group(1).strip()) if m else ""


def _sources(text: str) -> list[tuple[str, str, str]]:
    """``(id, ref, passage)`` for each ``<source>`` block."""
    return [
        (m.group(1), html.unescape(m.group(2)), html.unescape(m.group(3).strip()))
        for m in re.finditer(r'<source id="(\d+)" ref="([^"]*)">(.*?)</source>', text, re.S)
    ]


def _sentences(passage: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", passage) if len(s.strip()) > 20]


def quote_relevant(query: str, prompt: str, limit: int = 4) -> list[tuple[str, str]]:
    """The ``limit`` most query-relevant sentences of the sources, as ``(id, sentence)``."""
    q = words(query)
    scored: list[tuple[float, int, str, str]] = []
    for order, (sid, _ref, passage) in enumerate(_sources(prompt)):
        for sentence in _sentences(passage) or [passage]:
            overlap = len(q & words(sentence))
            if overlap:
                scored.append((-overlap, order, sid, sentence))
    scored.sort()
    seen: set[str] = set()
    picked: list[tuple[str, str]] = []
    for _score, _order, sid, sentence in scored:
        if sentence not in seen:
            seen.add(sentence)
            picked.append((sid, sentence))
        if len(picked) == limit:
            break
    return picked


def _research(prompt: str) -> str:
    query = _tag(prompt, "query")
    quotes = quote_relevant(query, prompt)
    if not quotes:
        return (
            f"{OFFLINE_MARKER} No source passage shares words with the query "
            f"“{query}”, so there is nothing to quote."
        )
    lines = [f"{OFFLINE_MARKER} Passages most relevant to “{query}”, quoted verbatim:", ""]
    for sid, sentence in quotes:
        lines += [f"> {sentence} [{sid}]", ""]
    return "\n".join(lines).rstrip()


def _implement(prompt: str, tool_results: list[str]) -> str:
    step = _tag(prompt, "step")
    query = _tag(prompt, "query")
    research = _tag(prompt, "research")
    quotes = [ln[2:] for ln in research.splitlines() if ln.startswith("> ")][:2]
    lines = [f"{OFFLINE_MARKER} Deliverable for: {step}", "", f"Goal: {query}", ""]
    if quotes:
        lines += ["What the research supports:", *[f"- {q}" for q in quotes], ""]
    for result in tool_results:
        lines += ["Tool result (excerpt):", "", "```", result[:600], "```", ""]
    lines.append("Written offline: review before relying on it.")
    return "\n".join(lines)


def _plan(prompt: str) -> dict[str, Any]:
    query = _tag(prompt, "query") or "the request"
    feedback = _tag(prompt, "feedback")
    urls = list(dict.fromkeys(_URL.findall(query)))
    topic = " ".join(_URL.sub("", query).split()) or "the request"
    short = topic if len(topic) <= 70 else topic[:67] + "..."
    steps: list[dict[str, Any]] = [
        {"id": "s1", "description": f"Summarise what the research found about: {short}"},
    ]
    # Only these steps name a URL, so only they ask to use the network.
    steps += [
        {"id": f"u{n}", "description": f"Fetch {url} and summarise it"}
        for n, url in enumerate(urls, start=1)
    ]
    steps.append(
        {
            "id": "s2",
            "description": f"Draft the deliverable for: {short}",
            "depends_on": ["s1", *(f"u{n}" for n in range(1, len(urls) + 1))],
        }
    )
    last = "s2"
    if feedback:
        steps.append(
            {"id": "f1", "description": f"Address the feedback: {feedback}", "depends_on": ["s2"]}
        )
        last = "f1"
    steps.append(
        {
            "id": "s3",
            "description": "Check the draft against the sources and list open questions",
            "depends_on": [last],
        }
    )
    for step in steps:
        step.setdefault("depends_on", [])
    return {"title": f"{OFFLINE_MARKER} Plan for: {short}", "steps": steps}


def _key_facts(prompt: str) -> dict[str, Any]:
    query = _tag(prompt, "query")
    research = _tag(prompt, "research")
    quotes = [ln[2:].strip() for ln in research.splitlines() if ln.startswith("> ")]
    facts = [re.sub(r"\s*\[\d+\]$", "", q) for q in quotes][:5]
    names: dict[str, None] = {}
    for text in [query, *facts]:
        for m in re.finditer(r"\b[A-Z][A-Za-z0-9]+(?:[ -][A-Z][A-Za-z0-9]+)*\b", text):
            if m.group(0).lower() not in STOPWORDS and len(m.group(0)) > 2:
                names.setdefault(m.group(0))
    entities = [{"name": n, "kind": "concept"} for n in list(names)[:8]]
    topic = query if len(query) <= 80 else query[:77] + "..."
    relations = [{"source": topic, "relation": "MENTIONS", "target": e["name"]} for e in entities]
    if topic:
        entities.insert(0, {"name": topic, "kind": "topic"})
    return {"facts": facts, "entities": entities, "relations": relations}


def _relevant(prompt: str) -> dict[str, Any]:
    q = words(_tag(prompt, "query"))
    top_k = int(_tag(prompt, "top_k") or 5)
    scored = [
        (-len(q & words(html.unescape(m.group(2)))), int(m.group(1)))
        for m in re.finditer(r'<candidate id="(\d+)">(.*?)</candidate>', prompt, re.S)
    ]
    return {"ids": [n for score, n in sorted(scored) if score < 0][:top_k]}


def _orchestrate(prompt: str) -> dict[str, Any]:
    agents = re.findall(r'<agent name="([^"]+)">(.*?)</agent>', prompt, re.S)
    request = _tag(prompt, "request")
    tasks: list[dict[str, Any]] = []
    for group in [g for g in re.split(r"\s*;\s*|\n+", request) if g.strip()]:
        previous = None
        for part in [p.strip() for p in re.split(r"\bthen\b", group) if p.strip()]:
            q = words(part)
            scores = [len(q & words(f"{name} {html.unescape(text)}")) for name, text in agents]
            best = max(scores, default=0)
            tied = [name for (name, _), score in zip(agents, scores, strict=True) if score == best]
            task_id = f"t{len(tasks) + 1}"
            tasks.append(
                {
                    "id": task_id,
                    "agent": tied[len(tasks) % len(tied)] if tied else "none",
                    "description": part[:1_000],
                    "depends_on": [previous] if previous else [],
                }
            )
            previous = task_id
    return {"tasks": tasks[:8] or [{"id": "t1", "agent": "none", "description": request}]}


def _agent_answer(prompt: str, tool_results: list[str]) -> str:
    agent, instruction = _tag(prompt, "agent"), _tag(prompt, "instruction")
    lines = [f"{OFFLINE_MARKER} @{agent} on: {instruction}"]
    earlier = re.findall(r"<result task=\"([^\"]+)\">", prompt)
    if earlier:
        lines.append("Building on: " + ", ".join(earlier))
    for tag, label in (("own", "From my context"), ("recall", "From the space")):
        found = _tag(prompt, tag)
        if found:
            lines.append(f"{label}: {found[:200]}")
    for result in tool_results:
        lines.append(f"Tool result (excerpt): {result[:300]}")
    return "\n".join(lines)


def _summary(prompt: str) -> str:
    turns = [html.unescape(t).strip() for t in re.findall(r"<turn[^>]*>(.*?)</turn>", prompt, re.S)]
    gist = "; ".join(t[:60] for t in turns)
    return f"{OFFLINE_MARKER} Summary of {len(turns)} earlier messages: {gist}"


# Structured-output generators for our schemas, by tool (schema) name.
SCHEMAS: dict[str, Callable[[str], dict[str, Any]]] = {
    "Plan": _plan,
    "KeyFacts": _key_facts,
    "Relevant": _relevant,
    "TaskPlan": _orchestrate,
}


class OfflineChatModel(BaseChatModel):
    """Deterministic stand-in for an LLM, for tests and the offline demo (see module doc)."""

    model_name: str = "offline"

    @property
    def _llm_type(self) -> str:
        return "spaces-offline"

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | dict | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Accept tools the way real chat models do (also used for structured output)."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        tools = {t["function"]["name"] for t in kwargs.get("tools") or []}
        forced = _forced_tool(kwargs.get("tool_choice"), tools)
        tool_results = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
        urls = _URL.findall(_tag(prompt, "step") or _tag(prompt, "instruction"))
        message: AIMessage
        asked = ((kwargs.get("response_format") or {}).get("json_schema") or {}).get("name")
        if asked in SCHEMAS:  # the json_schema method: the object as the message text
            out_text = json.dumps(SCHEMAS[asked](prompt))
            message = AIMessage(content=out_text)
        elif forced in SCHEMAS:
            message, out_text = _tool_call(forced, SCHEMAS[forced](prompt))
        elif "http_get" in tools and not tool_results and urls:
            message, out_text = _tool_call("http_get", {"url": urls[0]})
        else:
            task = _tag(prompt, "task")
            if task == "research":
                out_text = _research(prompt)
            elif task == "implement":
                out_text = _implement(prompt, tool_results)
            elif task == "agent":
                out_text = _agent_answer(prompt, tool_results)
            elif task == "summarise":
                out_text = _summary(prompt)
            else:
                last = str(messages[-1].content).strip() if messages else ""
                out_text = f"{OFFLINE_MARKER} {last[:500]}"
            message = AIMessage(content=out_text)
        usage = {
            "input_tokens": estimate_tokens(prompt),
            "output_tokens": estimate_tokens(out_text),
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        message.usage_metadata = usage  # type: ignore[assignment]
        message.response_metadata = {"model_name": self.model_name}
        return ChatResult(generations=[ChatGeneration(message=message)])


def _tool_call(name: str, args: dict[str, Any]) -> tuple[AIMessage, str]:
    call = {"name": name, "args": args, "id": "offline-0", "type": "tool_call"}
    return AIMessage(content="", tool_calls=[call]), json.dumps(args)


def _forced_tool(choice: Any, tools: set[str]) -> str | None:
    """The tool a ``tool_choice`` forces, if any (``any``/``required`` with one tool counts)."""
    if isinstance(choice, str) and choice in tools:
        return choice
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    if choice in ("any", "required", True) and len(tools) == 1:
        return next(iter(tools))
    return None
