"""A space's objects in the console: upload, "Versions – NAME", active checkboxes, rename rule."""

from __future__ import annotations

from playwright.sync_api import expect

from app.spaces.stores import audit
from tests.support.console import create_space, screenshot


def _upload(page_or_dialog, name: str, text: str, button: str, field: str) -> None:
    page_or_dialog.get_by_label(field).set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": text.encode()}
    )
    page_or_dialog.get_by_role("button", name=button).click()


def test_upload_an_object_and_add_a_version(console_server, sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "obj_lab", "Objects lab")
    page.get_by_role("button", name="Create Object").click()
    dialog = page.get_by_role("dialog", name="Create Object")
    _upload(dialog, "pumps.md", "Pump P7 runs at 42 bar.", "Upload", "File")
    tile = page.get_by_role("listitem", name="pumps.md")
    expect(tile).to_contain_text("1 version")
    tile.get_by_role("link", name="Manage versions").click()
    versions = page.get_by_role("dialog", name="Versions – pumps.md")
    expect(versions).to_be_visible()
    _upload(versions, "pumps.md", "Pump P7 runs at 40 bar.", "Add version", "New version of")
    versions = page.get_by_role("dialog", name="Versions – pumps.md")
    expect(versions.get_by_role("checkbox")).to_have_count(2)
    screenshot(page, "versions")
    # The rename rule: another file name is refused with the store's message.
    _upload(versions, "valves.md", "x", "Add version", "New version of")
    expect(page.get_by_role("alert")).to_contain_text("This object tracks files named pumps.md")
    # Both active: the grid shows a count; untick v1 and it is gone.
    page.goto("/ui/spaces/obj_lab")
    expect(page.get_by_role("listitem", name="pumps.md")).to_contain_text("2 active")
    screenshot(page, "space")
    page.get_by_role("listitem", name="pumps.md").get_by_role("link").click()
    versions = page.get_by_role("dialog", name="Versions – pumps.md")
    versions.get_by_role("checkbox", name="Active v1").uncheck()
    versions.get_by_role("button", name="Save versions").click()
    versions = page.get_by_role("dialog", name="Versions – pumps.md")
    expect(versions.get_by_role("checkbox", name="Active v1")).not_to_be_checked()
    expect(versions.get_by_role("checkbox", name="Active v2")).to_be_checked()
    # Every write was audited as the CLI's and REST's are.
    spaces_schema = "space_obj_lab"
    entries = audit.read(console_server["backends"].pool, spaces_schema, limit=50)
    actions = [e.action for e in entries if e.actor == "alice"]
    assert {"object.add", "version.add", "version.set_status"} <= set(actions)


def test_a_member_cannot_upload(console_server, sign_in) -> None:
    from app.spaces.access.members import add_member
    from app.spaces.space_manager import SpaceManager
    from tests.support.settings import make_settings

    owner = sign_in("olga")
    create_space(owner, "members_lab", "Members lab")
    with SpaceManager(make_settings(console_server["home"])) as spaces:
        add_member(spaces, "members_lab", "olga", "mia", "member")
    mia = sign_in("mia")
    mia.goto("/ui/spaces/members_lab")
    expect(mia.get_by_role("heading", name="Members lab")).to_be_visible()
    expect(mia.get_by_role("button", name="Create Object")).to_have_count(0)
    token = mia.locator("input[name=csrf]").first.get_attribute("value")
    reply = mia.request.post(
        "/ui/spaces/members_lab/objects",
        multipart={"csrf": token, "file": {"name": "a.md", "mimeType": "text/plain",
                                           "buffer": b"hello"}},
    )  # fmt: skip
    assert reply.status == 403
