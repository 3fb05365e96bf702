"""Runs in the console: start rpi, approve in the "Plan approval" modal; a member is refused."""

from __future__ import annotations

from playwright.sync_api import expect

from app.spaces.access.members import add_member
from app.spaces.space_manager import SpaceManager
from tests.support.console import create_space, screenshot
from tests.support.settings import make_settings


def _start(page, space_id: str, question: str) -> None:
    page.goto(f"/ui/spaces/{space_id}/runs")
    form = page.get_by_role("form", name="Start a run")
    form.get_by_label("Question").fill(question)
    form.get_by_role("button", name="Start run").click()


def test_run_rpi_and_approve_in_the_modal(sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "runs_lab", "Runs lab")
    _start(page, "runs_lab", "How are ledger blocks made final?")
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=60_000)
    thread_id = page.url.rsplit("/", 1)[1]
    expect(modal.get_by_role("list", name="Steps").get_by_role("listitem").first).to_be_visible()
    screenshot(page, "approval")
    # An edited plan that is invalid is shown back in the modal, still waiting.
    modal.get_by_text("Edit the plan").click()
    modal.get_by_label("Plan (JSON)").fill('{"title": "x", "steps": []}')
    modal.get_by_role("button", name="Save edited plan").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal.get_by_role("alert")).to_be_visible(timeout=60_000)
    modal.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("completed", timeout=90_000)
    expect(page.get_by_role("dialog", name="Plan approval")).to_have_count(0)
    page.get_by_role("link", name="All runs").click()
    runs = page.get_by_role("table", name="Runs")
    expect(runs.get_by_role("row").nth(1)).to_contain_text("completed")
    screenshot(page, "runs")
    # Its event stream (what the page shows while it runs) replays and ends.
    events = page.request.get(f"/ui/spaces/runs_lab/runs/{thread_id}/events", timeout=30_000)
    assert events.status == 200 and "event: end" in events.text()
    # The run's tokens show on the space page's chart of tokens per day.
    page.goto("/ui/spaces/runs_lab")
    chart = page.get_by_role("img", name="Tokens per day")
    expect(chart.locator("rect[height]:not([height='0'])")).to_have_count(1)


def test_a_member_is_refused_the_approval(console_server, sign_in) -> None:
    owner = sign_in("olive")
    create_space(owner, "team_runs", "Team runs")
    with SpaceManager(make_settings(console_server["home"])) as spaces:
        add_member(spaces, "team_runs", "olive", "max", "member")
    _start(owner, "team_runs", "How are ledger blocks made final?")
    expect(owner.get_by_role("dialog", name="Plan approval")).to_be_visible(timeout=60_000)
    run_url = owner.url
    member = sign_in("max")
    member.goto(run_url)
    modal = member.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible()
    expect(modal.get_by_role("note")).to_contain_text("cannot answer approvals")
    expect(modal.get_by_role("button", name="Approve")).to_be_disabled()
    token = member.locator("input[name=csrf]").first.get_attribute("value")
    reply = member.request.post(f"{run_url}/answer", form={"csrf": token, "action": "approve"})
    assert reply.status == 403
    member.goto(run_url)
    expect(member.get_by_role("status")).to_have_text("awaiting_approval")
    # The owner rejects it with feedback: it ends rejected.
    owner.goto(run_url)
    modal = owner.get_by_role("dialog", name="Plan approval")
    modal.get_by_label("Feedback").fill("not now")
    modal.get_by_role("button", name="Reject").click()
    expect(owner.get_by_role("status")).to_have_text("rejected", timeout=60_000)


def test_start_a_research_run(sign_in) -> None:
    page = sign_in("rita")
    create_space(page, "research_lab", "Research lab")
    page.goto("/ui/spaces/research_lab/runs")
    form = page.get_by_role("form", name="Start a run")
    form.get_by_label("Graph").select_option("research")
    form.get_by_label("Question").fill("What is Raft?")
    form.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("heading", name="research run")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("completed", timeout=90_000)
    page.get_by_role("link", name="Research note").click()
    expect(page.get_by_role("article", name="Note")).to_be_visible()
