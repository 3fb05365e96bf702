"""Resuming from the console: a served run stopped mid-way continues; a CLI run says how."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from app.spaces.access.members import add_member
from app.spaces.access.space_settings import update_space
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.run_records import register_thread
from tests.support.console import create_space
from tests.support.settings import make_settings


def test_a_run_stopped_mid_way_resumes_from_the_console(console_server, sign_in) -> None:
    model = console_server["model"]
    page = sign_in("ursula")
    create_space(page, "resume_lab", "Resume lab")
    with SpaceManager(make_settings(console_server["home"])) as spaces:
        # The fake provider holds the run's first model call while its gate is shut.
        update_space(spaces, "resume_lab", "ursula", model="openai:gpt-4o-mini")
        add_member(spaces, "resume_lab", "ursula", "mona", "member")
    model.held.clear()
    model.gate.clear()
    try:
        page.goto("/ui/spaces/resume_lab/runs")
        form = page.get_by_role("form", name="Start a run")
        form.get_by_label("Question").fill("How are ledger blocks made final?")
        form.get_by_role("button", name="Start run").click()
        assert model.held.wait(60), "the run never called the model"
        page.goto(page.url)  # the run is busy in its research step
        expect(page.get_by_role("status")).to_have_text("running", timeout=30_000)
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_role("status")).to_have_text("interrupted", timeout=60_000)
    finally:
        model.gate.set()
    run_url = page.url
    page.goto(run_url)
    expect(page.get_by_role("note", name="Stopped")).to_be_visible()
    # A member may not resume another's run: no button, and a forged POST is refused.
    member = sign_in("mona")
    member.goto(run_url)
    expect(member.get_by_role("status")).to_have_text("interrupted")
    expect(member.get_by_role("button", name="Resume")).to_have_count(0)
    token = member.locator("input[name=csrf]").first.get_attribute("value")
    assert member.request.post(f"{run_url}/resume", form={"csrf": token}).status == 403
    # Without the CSRF token the owner's resume is refused too.
    assert page.request.post(f"{run_url}/resume", form={"csrf": "x"}).status == 403
    runs = page.request.get("/ui/spaces/resume_lab/runs").text()
    assert "interrupted" in runs
    page.get_by_role("button", name="Resume").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=90_000)
    expect(modal.get_by_role("list", name="Steps")).to_contain_text("Collect facts")
    modal.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("completed", timeout=90_000)
    # Nothing is left to resume: the server's answer is 409.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    assert page.request.post(f"{run_url}/resume", form={"csrf": token}).status == 409


def test_a_cli_run_shows_the_command_to_resume_it(console_server, sign_in) -> None:
    page = sign_in("carl")
    create_space(page, "cli_lab", "CLI lab")
    thread_id = "0b3c3d57-5a35-4c2e-9d0e-4d9d0c1e2f3a"
    # What `spaces run` records before its first step; its checkpoints stay in the CLI's schema.
    register_thread(console_server["backends"].pool, thread_id, "cli_lab", "carl", "rpi")
    page.goto(f"/ui/spaces/cli_lab/runs/{thread_id}")
    note = page.get_by_role("note", name="Driven elsewhere")
    expect(note).to_contain_text(f"spaces resume {thread_id}")
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    # The server cannot resume it: it does not hold the thread (404, as from /my/).
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    cookie = next(c for c in page.context.cookies() if c["name"] == "spaces_console")
    reply = httpx.post(
        f"{console_server['url']}/ui/spaces/cli_lab/runs/{thread_id}/resume",
        data={"csrf": token}, cookies={"spaces_console": cookie["value"]}, timeout=30,
    )  # fmt: skip
    assert reply.status_code == 404
