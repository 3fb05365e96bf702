"""Team in the console: an admin adds a member, who sees the team but not the audit log."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.console import create_space, screenshot


def test_admin_adds_a_member_and_reads_the_audit(sign_in) -> None:
    admin = sign_in("ada")
    create_space(admin, "team_lab", "Team lab")
    admin.get_by_role("link", name="Team").click()
    form = admin.get_by_role("form", name="Add a member")
    form.get_by_label("User id").fill("ben")
    form.get_by_label("Role").select_option("operator")
    form.get_by_role("button", name="Add member").click()
    members = admin.get_by_role("table", name="Members")
    expect(members.get_by_role("row", name="ben operator")).to_be_visible()
    log = admin.get_by_role("table", name="Audit log")
    expect(log.get_by_role("row").nth(1)).to_contain_text("member")
    admin.get_by_role("form", name="Filter the audit log").get_by_label("Actor").fill("nobody")
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_role("table", name="Audit log").get_by_role("row")).to_have_count(1)
    screenshot(admin, "team")
    ben = sign_in("ben")
    ben.goto("/ui/spaces/team_lab/team")
    expect(ben.get_by_role("table", name="Members")).to_be_visible()
    expect(ben.get_by_role("table", name="Audit log")).to_have_count(0)
    expect(ben.get_by_role("form", name="Add a member")).to_have_count(0)
