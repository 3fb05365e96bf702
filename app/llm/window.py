"""Each model's context window, and counting a prompt's tokens against it.

A request that does not fit the model's window is refused by the server
(llama-server: HTTP 400 "request (N tokens) exceeds the available context
size (M tokens)"), so every call is fitted before it is sent
(``app.llm.fit``). The window of a model comes from, in order:

1. the setting ``SPACES_MODEL_CONTEXT`` (``name=tokens,...``, ``*`` for any
   other model; a name is the model without ``openai:`` and its method);
2. the server, where it says so: llama-server's ``GET /props``
   (``default_generation_settings.n_ctx``, or ``n_ctx``), asked once per
   endpoint and model, only for a configured ``OPENAI_BASE_URL``;
3. a table of known hosted models;
4. ``DEFAULT_CONTEXT_TOKENS``, small on purpose (an unknown server).

Tokens are counted with the model's own tokenizer where the server has one
(llama-server's ``POST /tokenize``), else estimated safely at a token per
2.5 characters (English runs about four with OpenAI's tokenizers, but
SmolLM2's splits digits: 52 characters of "Pump P7 runs at 42 bar. ..."
were 19 tokens).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from app.llm.structured import split_method
from app.settings import Settings

DEFAULT_CONTEXT_TOKENS = 8_192
UNLIMITED = 1_000_000  # the offline and scripted models have no window
MESSAGE_OVERHEAD = 8  # role markers of a chat template, per message
PROBE_TIMEOUT_S = 2.0
CACHE_S = 300.0
KNOWN = (  # hosted models by name prefix, longest first
    ("gpt-4.1", 1_000_000),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-3.5-turbo", 16_385),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
)
_OVERFLOW = re.compile(r"exceeds the available context size \((\d+) tokens\)")
_lock = threading.Lock()
_served: dict[tuple[str, str], tuple[float, int | None]] = {}  # what servers said, briefly kept


@dataclass(frozen=True)
class Window:
    """A model's context size, where it was learned, and how to count its tokens."""

    tokens: int
    source: str  # "setting", "server", "known", "default" or "none"
    tokenize_url: str | None = None

    def count(self, text: str) -> int:
        """Tokens of ``text``: the server's tokenizer, else the safe estimate."""
        if self.tokenize_url and text:
            counted = _tokenize(self.tokenize_url, text)
            if counted is not None:
                return counted
        return estimate(text)


CHARS_PER_TOKEN = 2.5


def estimate(text: str) -> int:
    """A safe token count without a tokenizer: a token per 2.5 characters, rounded up."""
    return (2 * len(text) + 4) // 5


def base_name(name: str) -> str:
    """``openai:smollm2@json_schema`` -> ``smollm2`` (the name settings and servers use)."""
    base, _method = split_method(name)
    for prefix in ("openai:", "openai/"):
        base = base.removeprefix(prefix)
    return base


def configured(settings: Settings, name: str) -> int | None:
    """The window ``SPACES_MODEL_CONTEXT`` gives ``name`` (or ``*``), if any."""
    table = dict(settings.model_context)
    return table.get(base_name(name), table.get("*"))


def _root(base_url: str) -> str:
    return base_url.rstrip("/").removesuffix("/v1")


def _props_window(base_url: str, model: str) -> int | None:
    """The ``n_ctx`` a llama-server at ``base_url`` reports, or ``None`` (asked once a while)."""
    key = (base_url, model)
    with _lock:
        hit = _served.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    found: int | None = None
    try:
        with urllib.request.urlopen(_root(base_url) + "/props", timeout=PROBE_TIMEOUT_S) as r:
            props = json.loads(r.read() or b"{}")
        if isinstance(props, dict):
            generation = props.get("default_generation_settings") or {}
            raw = generation.get("n_ctx") if isinstance(generation, dict) else None
            raw = raw if raw is not None else props.get("n_ctx")
            found = int(raw) if isinstance(raw, int) and raw > 0 else None
    except (OSError, ValueError):
        found = None  # no such endpoint: not a llama-server
    learn(base_url, model, found)
    return found


def learn(base_url: str, model: str, tokens: int | None) -> None:
    """Remember the window a server stated (by ``/props`` or in a refusal)."""
    with _lock:
        _served[(base_url, model)] = (time.monotonic(), tokens)


def stated_window(message: str) -> int | None:
    """The window named in a llama-server refusal ("... context size (M tokens)")."""
    m = _OVERFLOW.search(message)
    return int(m.group(1)) if m else None


def _tokenize(url: str, text: str) -> int | None:
    request = urllib.request.Request(
        url,
        data=json.dumps({"content": text, "add_special": False}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            tokens = json.loads(reply.read()).get("tokens")
    except (OSError, ValueError, AttributeError):
        return None
    return len(tokens) if isinstance(tokens, list) else None


def context_window(name: str, settings: Settings) -> Window:
    """The window of the single model ``name`` (see the module docstring for the order)."""
    base, _method = split_method(name)
    if not base.startswith(("openai:", "openai/")):  # offline, scripted: only by their own name
        size = dict(settings.model_context).get(base)
        return Window(size, "setting") if size else Window(UNLIMITED, "none")
    model = base_name(name)
    server = None
    if settings.openai_base_url:
        server = _props_window(settings.openai_base_url, model)
    tokenize = _root(settings.openai_base_url) + "/tokenize" if server else None
    if (size := configured(settings, name)) is not None:
        return Window(size, "setting", tokenize)
    if server is not None:
        return Window(server, "server", tokenize)
    for prefix, tokens in KNOWN:
        if model.startswith(prefix):
            return Window(tokens, "known")
    return Window(DEFAULT_CONTEXT_TOKENS, "default")


def chain_window(names: list[str], settings: Settings) -> Window:
    """The smallest window of a fallback chain: every model in it must take the prompt."""
    windows: list[Window] = [context_window(n, settings) for n in names]
    return min(windows, key=lambda w: w.tokens)


Counter = Callable[[str], int]
