"""Chat in the console: ``@agent`` answers, a task plan approved in the modal, tasks done."""

from __future__ import annotations

from playwright.sync_api import expect

from app.spaces.space_manager import SpaceManager
from app.spaces.stores.agents import AgentStore
from tests.support.console import create_space, screenshot
from tests.support.settings import make_settings


def test_chat_with_an_agent_and_approve_a_task_plan(console_server, sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "chat_lab", "Chat lab")
    with SpaceManager(make_settings(console_server["home"])) as spaces:
        store = AgentStore(spaces.open_space("chat_lab", write=True))
        for name, prompt in (("researcher", "You research facts."), ("writer", "You write.")):
            store.create(name, system_prompt=prompt, model="offline", user_id="alice")
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="New chat").click()
    send = page.get_by_role("form", name="Send a message")
    expect(send.locator("datalist option")).to_have_count(2)  # @agent completion
    send.get_by_label("Message").fill("@researcher what is raft?")
    send.get_by_role("button", name="Send").click()
    messages = page.get_by_role("list", name="Messages")
    expect(messages).to_contain_text("@researcher on: what is raft?", timeout=60_000)
    send = page.get_by_role("form", name="Send a message")
    send.get_by_label("Message").fill("research raft consensus then write a summary")
    send.get_by_role("button", name="Send").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=60_000)
    expect(modal.locator(".countdown")).to_contain_text("s left to answer")
    expect(modal.get_by_role("img", name="Plan graph").locator("line")).to_have_count(1)
    screenshot(page, "chat")
    modal.get_by_role("button", name="Approve").click()
    tasks = page.get_by_role("region", name="Tasks")
    expect(tasks.get_by_role("listitem", name="t1")).to_contain_text("completed", timeout=60_000)
    expect(tasks.get_by_role("listitem", name="t2")).to_contain_text("completed")
    graph = tasks.get_by_role("img", name="Task plan graph")
    expect(graph.locator("g.node.completed")).to_have_count(2)
    screenshot(page, "chat-done")
    expect(page.get_by_role("dialog", name="Plan approval")).to_have_count(0)


def test_a_stranger_cannot_open_someone_elses_chat(console_server, sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "chat_private", "Chat private")
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url("**/chat/*")
    url = page.url
    other = sign_in("mallory")
    reply = other.goto(url)
    assert reply is not None and reply.status == 404
