"""What several console tests share: steps taken as a user would (by role and name), screenshots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


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


SECRET = "console-secret-" + "y" * 32
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def screenshot(page, name: str) -> None:
    """Save a screenshot of a main page into docs/console/ (set CONSOLE_SHOTS=1)."""
    if os.environ.get("CONSOLE_SHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def chromium_path() -> str | None:
    """The distribution's Chromium, when Playwright has no browser of its own."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None
