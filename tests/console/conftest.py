"""Console fixtures: one ``langgraph dev`` and one headless Chromium for the whole module set.

Playwright drives the distribution's Chromium (``/usr/bin/chromium``) when
its own browser is not downloaded (``playwright install chromium`` cannot
download on these machines). Without either, the console tests fail, saying
exactly what to install (`make test` runs `make browser` first, which gets one).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as playwright_api  # a dev dependency: pip install -e '.[dev]'
import pytest

from app.server.console.sessions import issue_login
from app.spaces.backends import Backends
from tests.conftest import make_settings
from tests.devserver import ROOT, served
from tests.fake_openai import FakeOpenAI, completion

SECRET = "console-secret-" + "y" * 32


def chromium_path() -> str | None:
    """The distribution's Chromium, when Playwright has no browser of its own."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


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


@pytest.fixture(scope="package")
def fake_model() -> Iterator[GatedModel]:
    """The session's fake OpenAI-protocol provider and its gate."""
    model = GatedModel()
    with FakeOpenAI(model) as server:
        model.base_url = server.base_url
        yield model
        model.gate.set()


@pytest.fixture(scope="package")
def console_server(tmp_path_factory: pytest.TempPathFactory, fake_model) -> Iterator[dict]:
    """A dev server in a temporary home, and a way to mint login tokens for it."""
    home = tmp_path_factory.mktemp("console")
    # This checkout's code, not whatever an editable install of the venv points at.
    with served(
        home,
        SECRET,
        PYTHONPATH=str(ROOT),
        OPENAI_BASE_URL=fake_model.base_url,
        SPACES_MODEL="offline",
    ) as url:
        backends = Backends(make_settings(home))
        try:
            yield {"url": url, "home": home, "backends": backends, "model": fake_model}
        finally:
            backends.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for every console test."""
    with playwright_api.sync_playwright() as p:
        try:
            launched = p.chromium.launch(args=["--no-sandbox"])
        except playwright_api.Error:
            path = chromium_path()
            if path is None:
                pytest.fail(
                    "no browser: run `make browser` (Playwright's Chromium, or the "
                    "distribution's: apt-get install -y chromium)"
                )
            launched = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def sign_in(console_server, browser):
    """``sign_in("alice")``: a new browser context signed in as that user, on /ui/."""
    contexts = []

    def open_as(user: str):
        context = browser.new_context(base_url=console_server["url"])
        contexts.append(context)
        page = context.new_page()
        token = issue_login(console_server["backends"].pool, user)
        page.goto(f"/ui/login?token={token}")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/ui/")
        return page

    yield open_as
    for context in contexts:
        context.close()


SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def screenshot(page, name: str) -> None:
    """Save a screenshot of a main page into docs/console/ (set CONSOLE_SHOTS=1)."""
    if os.environ.get("CONSOLE_SHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
