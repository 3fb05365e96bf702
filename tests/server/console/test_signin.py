"""Console sign-in, sign-out, CSRF and the cookie's reach, in a real browser."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from playwright.sync_api import expect

from app.spaces.access.members import add_member
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.run_records import register_thread
from tests.support.console import SECRET, screenshot
from tests.support.settings import ROOT, make_settings


def test_spaces_ui_prints_a_link_that_works_once(console_server, browser) -> None:
    home = console_server["home"]
    env = {**os.environ, "SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "vaults"),
           "SPACES_JWT_SECRET": SECRET}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "ui", "--user", "alice", "--url", console_server["url"]],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    link = out.stdout.splitlines()[0]
    assert link.startswith(console_server["url"] + "/ui/login?token=")
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    screenshot(page, "login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your spaces")).to_be_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "spaces_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui/"
    # The same link a second time: refused.
    other = browser.new_context().new_page()
    other.goto(link)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("alert")).to_contain_text("not valid any more")
    # Sign out: the cookie stops working.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    reply = httpx.get(
        console_server["url"] + "/ui/", cookies={"spaces_console": cookie["value"]}, timeout=30
    )
    assert reply.status_code == 401
    context.close()
    other.context.close()


def test_the_cookie_is_no_key_to_the_api(console_server, sign_in) -> None:
    page = sign_in("carol")
    cookie = next(c for c in page.context.cookies() if c["name"] == "spaces_console")
    jar = {"spaces_console": cookie["value"]}
    base = console_server["url"]
    assert httpx.get(f"{base}/my/spaces", cookies=jar, timeout=30).status_code == 401
    assert httpx.post(f"{base}/threads", json={}, cookies=jar, timeout=30).status_code in (401, 403)
    assert httpx.get(f"{base}/ui/", timeout=30).status_code == 401  # no cookie, no page


def test_create_space_in_the_dialog_and_archive_it(sign_in) -> None:
    page = sign_in("alice")
    page.get_by_role("button", name="Create space").click()
    dialog = page.get_by_role("dialog", name="Create New Space")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Space id").fill("ui_lab")
    dialog.get_by_label("Name").fill("UI <b>Lab</b>")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="UI <b>Lab</b>")).to_be_visible()  # shown as text
    page.goto("/ui/")
    card = page.get_by_role("listitem", name="UI <b>Lab</b>")
    expect(card.get_by_role("meter", name="Tokens", exact=False)).to_be_visible()
    screenshot(page, "spaces")
    card.get_by_role("button", name="Archive").click()
    card = page.get_by_role("listitem", name="UI <b>Lab</b>")
    expect(card).to_have_class("card archived")
    card.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("listitem", name="UI <b>Lab</b>")).to_have_class("card")


def test_a_forged_csrf_write_is_refused(console_server, sign_in) -> None:
    page = sign_in("dave")
    cookie = next(c for c in page.context.cookies() if c["name"] == "spaces_console")
    reply = httpx.post(
        console_server["url"] + "/ui/spaces",
        data={"space_id": "forged_space", "name": "x", "csrf": "not-the-token"},
        cookies={"spaces_console": cookie["value"]}, timeout=30,
    )  # fmt: skip
    assert reply.status_code == 403
    page.goto("/ui/")
    expect(page.get_by_text("No spaces yet.")).to_be_visible()
    # The right token but another site's Origin: refused too.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    reply = httpx.post(
        console_server["url"] + "/ui/spaces",
        data={"space_id": "forged_space", "name": "x", "csrf": token},
        headers={"Origin": "https://evil.example"},
        cookies={"spaces_console": cookie["value"]}, timeout=30,
    )  # fmt: skip
    assert reply.status_code == 403


def test_a_stranger_sees_nothing(console_server, sign_in) -> None:
    alice = sign_in("alice")
    alice.get_by_role("button", name="Create space").click()
    dialog = alice.get_by_role("dialog", name="Create New Space")
    dialog.get_by_label("Space id").fill("alice_secret")
    dialog.get_by_label("Name").fill("Secret")
    dialog.get_by_role("button", name="Create").click()
    expect(alice.get_by_role("heading", name="Secret")).to_be_visible()
    mallory = sign_in("mallory")
    expect(mallory.get_by_text("No spaces yet.")).to_be_visible()
    alice.get_by_role("link", name="Chat").click()
    alice.get_by_role("button", name="New chat").click()
    alice.wait_for_url("**/chat/*")
    chat = alice.url.rsplit("/", 1)[1]
    run = "5d0f3e7a-8a5e-4a57-9b8e-2c1d0a9b8c7d"
    register_thread(console_server["backends"].pool, run, "alice_secret", "alice", "rpi")
    pages = ("", "/vault", "/runs", "/recall", "/objects/1", "/team", "/chat",
             f"/chat/{chat}", f"/chat/{chat}/events", f"/runs/{run}", f"/runs/{run}/events",
             f"/runs/{run}/status")  # fmt: skip
    for path in pages:
        reply = mallory.goto(f"/ui/spaces/alice_secret{path}")
        assert reply is not None and reply.status == 404, path
        expect(mallory.get_by_text("Secret")).to_have_count(0)
    # Writes too, with mallory's own valid CSRF token: not found, nothing started.
    mallory.goto("/ui/")
    token = mallory.locator("input[name=csrf]").first.get_attribute("value")
    writes = (f"/runs/{run}/resume", f"/runs/{run}/stop", f"/runs/{run}/answer",
              f"/chat/{chat}/send", f"/chat/{chat}/answer")  # fmt: skip
    for path in writes:
        reply = mallory.request.post(
            f"/ui/spaces/alice_secret{path}",
            form={"csrf": token, "action": "approve", "message": "hi", "interrupt_id": "x"},
        )
        assert reply.status == 404, path
    # A member of the space reads its runs, but not alice's chat or its stream.
    with SpaceManager(make_settings(console_server["home"])) as spaces:
        add_member(spaces, "alice_secret", "alice", "mia", "member")
    mia = sign_in("mia")
    for path in (f"/chat/{chat}", f"/chat/{chat}/events"):
        reply = mia.goto(f"/ui/spaces/alice_secret{path}")
        assert reply is not None and reply.status == 404, path


def test_nul_bytes_are_bad_input_not_a_store_failure(console_server, sign_in) -> None:
    page = sign_in("nina")
    cookie = next(c for c in page.context.cookies() if c["name"] == "spaces_console")
    jar = {"spaces_console": cookie["value"]}
    base = console_server["url"]
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    reply = httpx.post(
        f"{base}/ui/spaces", data={"space_id": "nul_space", "name": "a\x00b", "csrf": token},
        cookies=jar, timeout=30,
    )  # fmt: skip
    assert reply.status_code == 400 and "NUL" in reply.text
    reply = httpx.get(f"{base}/ui/spaces/nul_space/recall?q=a%00b", cookies=jar, timeout=30)
    assert reply.status_code == 400
