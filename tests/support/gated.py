"""A fake model provider for the console tests whose answers wait behind a gate.

To see a run or a chat task mid-way (stop it, resume it, watch its status
change live), a test shuts the gate: the model call of a space or agent
whose model is ``openai:...`` then waits at the fake provider
(``tests/support/fake_openai.py``, an OpenAI-protocol server) until it opens.
The console's servers get its address as ``OPENAI_BASE_URL``; their default
model stays ``offline``, so every other test is untouched.
"""

from __future__ import annotations

import functools
import threading

from tests.support.fake_openai import FakeOpenAI, completion

PLAN = {
    "title": "Console plan",
    "steps": [
        {"id": "s1", "description": "Collect facts", "depends_on": []},
        {"id": "s2", "description": "Write it up", "depends_on": ["s1"]},
    ],
}


class GatedModel:
    """The fake provider's answers (an ``rpi`` run's, an agent's), held while ``gate`` is shut.

    Only spaces and agents whose model is ``openai:...`` reach it: the server's
    default model stays ``offline`` (no ``OPENAI_API_KEY`` is set). A test
    shuts the gate to keep a run or a task busy, and ``held`` tells it a call
    is waiting there.
    """

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.held = threading.Event()

    def __call__(self, body: dict) -> tuple[int, dict]:
        if not self.gate.is_set():
            self.held.set()
            self.gate.wait(120)
        choice = body.get("tool_choice")
        forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        if forced == "Plan":
            return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
        if forced == "KeyFacts":
            facts = {"facts": ["Consoles resume runs."], "entities": [], "relations": []}
            return 200, completion(tool_calls=[{"name": "KeyFacts", "args": facts}])
        if forced:
            return 200, completion(tool_calls=[{"name": forced, "args": {}}])
        return 200, completion("Text [1].")


@functools.cache
def shared_model() -> GatedModel:
    """The one gated provider of the test process, started on first use.

    A plain function, not only a fixture, so the server fixture can start it
    before the server (its threads are daemons: it ends with the process).
    """
    model = GatedModel()
    server = FakeOpenAI(model).__enter__()
    model.base_url = server.base_url
    return model
