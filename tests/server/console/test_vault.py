"""The vault and recall in the console: folders, a note rendered with links, XSS made inert."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.console import create_space, screenshot

XSS = """# Hostile

<script>window.__xss = 1</script>
<img src="x" onerror="window.__xss = 2">
[click](javascript:window.__xss=3)
<a href="#" onclick="window.__xss = 4">plain</a>
[[Pump P7|<b onmouseover=alert(1)>pump</b>]]
"""


def _write(root, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_browse_the_vault_read_a_note_follow_its_links(console_server, sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "vault_lab", "Vault lab")
    root = console_server["home"] / "vaults" / "vault_lab"
    _write(root, "plant/Pump P7.md", "---\ntags: [pumps]\n---\n# Pump P7\n\nRuns at **42 bar**.\n")
    _write(root, "plant/Valves.md", "# Valves\n\nV3 feeds [[Pump P7]]; see also [[Nowhere]].\n")
    page.get_by_role("link", name="Vault").click()
    page.get_by_role("link", name="📁 plant").click()
    page.get_by_role("link", name="Valves").click()
    note = page.get_by_role("article", name="Note")
    expect(note.get_by_role("heading", name="Valves")).to_be_visible()
    expect(note.get_by_text("see also")).to_be_visible()
    screenshot(page, "note")
    note.get_by_role("link", name="Pump P7").click()
    note = page.get_by_role("article", name="Note")
    expect(note.locator("strong")).to_have_text("42 bar")
    backlinks = page.get_by_role("list", name="Backlinks")
    expect(backlinks.get_by_role("link", name="Valves")).to_be_visible()


def test_a_hostile_note_renders_inert(console_server, sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "xss_lab", "XSS lab")
    root = console_server["home"] / "vaults" / "xss_lab"
    _write(root, "Pump P7.md", "# Pump P7\n")
    _write(root, "Hostile.md", XSS)
    page.goto("/ui/spaces/xss_lab/vault/note?path=Hostile.md")
    note = page.get_by_role("article", name="Note")
    expect(note.get_by_role("heading", name="Hostile")).to_be_visible()
    for link in note.get_by_role("link").all():
        link.hover()
        link.click(no_wait_after=True)
    page.goto("/ui/spaces/xss_lab/vault/note?path=Hostile.md")
    assert page.evaluate("window.__xss") is None
    markup = page.get_by_role("article", name="Note").inner_html()
    for bad in ("<script", "onerror", "onclick", "onmouseover", "javascript:", "<img"):
        assert bad not in markup, bad


def test_recall_shows_hits_with_citations(console_server, sign_in) -> None:
    page = sign_in("alice")
    create_space(page, "recall_lab", "Recall lab")
    root = console_server["home"] / "vaults" / "recall_lab"
    _write(root, "Pump P7.md", "Pump P7 runs at 42 bar.\n")
    _write(root, "Crews.md", "The night crew starts at 22:00.\n")
    page.get_by_role("link", name="Recall").click()
    page.get_by_role("searchbox", name="Search this space").fill("pump P7 pressure")
    page.get_by_role("button", name="Search").click()
    hits = page.get_by_role("list", name="Hits")
    first = hits.get_by_role("listitem").first
    expect(first).to_contain_text("42 bar")
    screenshot(page, "recall")
    first.get_by_role("link", name="Pump P7").click()
    expect(page.get_by_role("article", name="Note")).to_contain_text("42 bar")
