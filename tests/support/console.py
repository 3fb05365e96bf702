"""Steps several console tests share, taken as a user would (by role and name)."""

from __future__ import annotations


def create_space(page, space_id: str, name: str) -> None:
    """Create a space in the "Create New Space" dialog and land on its page."""
    from playwright.sync_api import expect

    page.goto("/ui/")
    page.get_by_role("button", name="Create space").click()
    dialog = page.get_by_role("dialog", name="Create New Space")
    dialog.get_by_label("Space id").fill(space_id)
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
