"""Console fixtures: one ``langgraph dev`` and one headless Chromium for the whole module set.

Playwright drives the distribution's Chromium (``/usr/bin/chromium``) when
its own browser is not downloaded (``playwright install chromium`` cannot
download on these machines). Without either, the console tests fail, saying
exactly what to install (`make test` runs `make browser` first, which gets one).
"""

from __future__ import annotations

from collections.abc import Iterator

import playwright.sync_api as playwright_api  # a dev dependency: pip install -e '.[dev]'
import pytest

from app.server.console.sessions import issue_login
from app.spaces.infra.backends import Backends
from tests.support.console import SECRET, chromium_path
from tests.support.devserver import served
from tests.support.gated import GatedModel, shared_model
from tests.support.settings import ROOT, make_settings


@pytest.fixture(scope="package")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A dev server in a temporary home, and a way to mint login tokens for it."""
    home = tmp_path_factory.mktemp("console")
    # This checkout's code, not whatever an editable install of the venv points at.
    # Spaces and agents with an ``openai:`` model call the gated fake provider.
    fake_model = shared_model()
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


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One headless Chromium for the console tests, closed after them.

    Package scope, not session: Playwright's sync API keeps an event loop running in
    the main thread while it is open, and later tests call ``asyncio.run``.
    """
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


@pytest.fixture(scope="package")
def fake_model() -> GatedModel:
    """The fake OpenAI-protocol provider the console's servers call, and its gate."""
    return shared_model()
