"""A chat turn streams into the page: the reply and the task statuses arrive without a reload."""

from __future__ import annotations

from playwright.sync_api import expect

from app.spaces.space_manager import SpaceManager
from app.spaces.stores.agents import AgentStore
from tests.support.console import create_space
from tests.support.settings import make_settings


def _agents(console_server, space_id: str, user: str) -> None:
    """``researcher`` answers through the gated fake provider; ``writer`` offline."""
    with SpaceManager(make_settings(console_server["home"])) as spaces:
        store = AgentStore(spaces.open_space(space_id, write=True))
        store.create("researcher", system_prompt="You research facts.",
                     model="openai:gpt-4o-mini", user_id=user)  # fmt: skip
        store.create("writer", system_prompt="You write.", model="offline", user_id=user)


def _new_chat(page) -> None:
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url("**/chat/*")


def test_a_reply_streams_in_without_a_reload(console_server, sign_in) -> None:
    model = console_server["model"]
    page = sign_in("stella")
    create_space(page, "stream_lab", "Stream lab")
    _agents(console_server, "stream_lab", "stella")
    _new_chat(page)
    page.evaluate("window.keptAcrossTheTurn = true")
    model.held.clear()
    model.gate.clear()
    try:
        send = page.get_by_role("form", name="Send a message")
        send.get_by_label("Message").fill("@researcher what is raft?")
        send.get_by_role("button", name="Send").click()
        assert model.held.wait(60), "the agent never called the model"
        messages = page.get_by_role("list", name="Messages")
        # The turn is running: the question is in, the form waits, no reply yet.
        expect(messages.locator("li.user")).to_contain_text("@researcher what is raft?")
        expect(page.get_by_role("status", name="Turn")).to_contain_text("working")
        expect(send.get_by_role("button", name="Send")).to_be_disabled()
        expect(messages.locator("li.assistant")).to_have_count(0)
    finally:
        model.gate.set()
    expect(messages.locator("li.assistant")).to_contain_text("Text [1].", timeout=60_000)
    expect(send.get_by_role("button", name="Send")).to_be_enabled(timeout=30_000)
    assert page.evaluate("window.keptAcrossTheTurn") is True  # the same page: no reload
    # After a reload the store has the same two messages, once each.
    page.reload()
    expect(messages.locator("li")).to_have_count(2)
    # Streamed text is text: markup in a message or a reply stays inert.
    hostile = '@writer <img src=x onerror="window.pwned=1"><b>bold</b>'
    send.get_by_label("Message").fill(hostile)
    send.get_by_role("button", name="Send").click()
    expect(messages.locator("li.assistant").last).to_contain_text("<b>bold</b>", timeout=60_000)
    expect(messages.locator("li.user").last).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(messages.locator("img, b")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    # A send without the CSRF token, or from another origin, is refused and starts nothing.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    forged = page.request.post(f"{page.url}/send", form={"message": "@writer forged"})
    elsewhere = page.request.post(
        f"{page.url}/send", form={"csrf": token, "message": "@writer forged"},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert (forged.status, elsewhere.status) == (403, 403)
    page.reload()
    expect(messages).not_to_contain_text("forged")


def test_task_statuses_update_live_for_an_orchestrated_plan(console_server, sign_in) -> None:
    model = console_server["model"]
    page = sign_in("otto")
    create_space(page, "stream_plan", "Stream plan")
    _agents(console_server, "stream_plan", "otto")
    _new_chat(page)
    send = page.get_by_role("form", name="Send a message")
    send.get_by_label("Message").fill("research raft consensus then write a summary")
    send.get_by_role("button", name="Send").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=60_000)  # the stream asked: the page shows the modal
    model.held.clear()
    model.gate.clear()
    try:
        modal.get_by_role("button", name="Approve").click()
        tasks = page.get_by_role("region", name="Tasks")
        expect(tasks).to_be_visible(timeout=30_000)
        page.evaluate("window.keptAcrossTheTurn = true")
        assert model.held.wait(60), "t1 never called the model"
        expect(tasks.get_by_role("listitem", name="t1")).to_contain_text("running")
        expect(tasks.get_by_role("listitem", name="t2")).not_to_contain_text("completed")
    finally:
        model.gate.set()
    expect(tasks.get_by_role("listitem", name="t1")).to_contain_text("completed", timeout=60_000)
    expect(tasks.get_by_role("listitem", name="t2")).to_contain_text("completed", timeout=60_000)
    graph = tasks.get_by_role("img", name="Task plan graph")
    expect(graph.locator("g.node.completed")).to_have_count(2)
    messages = page.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("Done 2 of 2 tasks", timeout=30_000)
    assert page.evaluate("window.keptAcrossTheTurn") is True
