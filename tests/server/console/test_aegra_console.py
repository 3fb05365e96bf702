"""The console on Aegra (``spaces serve``): the same ``http.app``, so the same pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from app.server.console.sessions import issue_login
from app.spaces.access.space_settings import update_space
from app.spaces.infra.backends import Backends
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.agents import AgentStore
from tests.support.aegraserver import start_aegra, stop_aegra
from tests.support.console import SECRET, create_space
from tests.support.settings import ROOT, make_settings


@pytest.fixture(scope="module")
def aegra(tmp_path_factory: pytest.TempPathFactory, fake_model) -> Iterator[tuple[str, Backends]]:
    home = tmp_path_factory.mktemp("console-aegra")
    url = start_aegra(
        home, SECRET, PYTHONPATH=str(ROOT), OPENAI_BASE_URL=fake_model.base_url,
        SPACES_MODEL="offline",
    )[0]  # fmt: skip
    backends = Backends(make_settings(home))
    try:
        yield url, backends, home
    finally:
        backends.close()
        stop_aegra(home, SECRET)


@pytest.mark.slow
def test_sign_in_create_a_space_and_approve_a_run_on_aegra(aegra, browser) -> None:
    url, backends, _ = aegra
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto(f"/ui/login?token={issue_login(backends.pool, 'alice')}")
    page.get_by_role("button", name="Sign in").click()
    create_space(page, "aegra_lab", "Aegra lab")
    assert page.request.get("/my/spaces").status == 401  # the cookie is no bearer token
    page.goto("/ui/spaces/aegra_lab/runs")
    form = page.get_by_role("form", name="Start a run")
    form.get_by_label("Question").fill("How are ledger blocks made final?")
    form.get_by_role("button", name="Start run").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=90_000)
    modal.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("completed", timeout=120_000)
    context.close()


def _signed_in(browser, url: str, backends: Backends, user: str):
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto(f"/ui/login?token={issue_login(backends.pool, user)}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/")
    return context, page


@pytest.mark.slow
def test_a_chat_reply_streams_in_on_aegra(aegra, browser) -> None:
    url, backends, home = aegra
    context, page = _signed_in(browser, url, backends, "sara")
    create_space(page, "aegra_chat", "Aegra chat")
    with SpaceManager(make_settings(home)) as spaces:
        AgentStore(spaces.open_space("aegra_chat", write=True)).create(
            "writer", system_prompt="You write.", model="offline", user_id="sara"
        )
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url("**/chat/*")
    page.evaluate("window.keptAcrossTheTurn = true")
    send = page.get_by_role("form", name="Send a message")
    send.get_by_label("Message").fill("@writer hello aegra")
    send.get_by_role("button", name="Send").click()
    messages = page.get_by_role("list", name="Messages")
    expect(messages.locator("li.user")).to_contain_text("@writer hello aegra", timeout=90_000)
    expect(messages.locator("li.assistant")).to_contain_text("hello aegra", timeout=90_000)
    assert page.evaluate("window.keptAcrossTheTurn") is True
    context.close()


@pytest.mark.slow
def test_a_stopped_run_resumes_on_aegra(aegra, browser, fake_model) -> None:
    url, backends, home = aegra
    context, page = _signed_in(browser, url, backends, "rosa")
    create_space(page, "aegra_resume", "Aegra resume")
    with SpaceManager(make_settings(home)) as spaces:
        update_space(spaces, "aegra_resume", "rosa", model="openai:gpt-4o-mini")
    fake_model.held.clear()
    fake_model.gate.clear()
    try:
        page.goto("/ui/spaces/aegra_resume/runs")
        form = page.get_by_role("form", name="Start a run")
        form.get_by_label("Question").fill("How are ledger blocks made final?")
        form.get_by_role("button", name="Start run").click()
        assert fake_model.held.wait(90), "the run never called the model"
        page.goto(page.url)
        expect(page.get_by_role("status")).to_have_text("running", timeout=60_000)
        page.get_by_role("button", name="Stop").click()
    finally:
        # Aegra ends a cancelled run once its node returns (the model call held here).
        fake_model.gate.set()
    expect(page.get_by_role("status")).to_have_text("interrupted", timeout=90_000)
    page.goto(page.url)
    page.get_by_role("button", name="Resume").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=120_000)
    modal.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("completed", timeout=120_000)
    context.close()
