"""A vault note as safe HTML: Markdown rendered, wikilinks linked, everything else sanitised.

Notes are written by people and by agents (which quote the web), so a note
is untrusted input: the HTML Python-Markdown makes is passed through bleach
with a short allow-list of tags and attributes and only http(s)/mailto and
relative links, and the pages' Content-Security-Policy forbids inline
scripts besides. Wikilinks become links to the note page, or a dimmed
"missing" link when no note has that name.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import quote

import bleach
import markdown

from app.server.console.links import WIKILINK, VaultLinks

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    "del", "sup", "sub", "span",
}  # fmt: skip
ATTRIBUTES = {"a": ["href", "title", "class"], "span": ["class"], "th": ["align"], "td": ["align"]}
PROTOCOLS = {"http", "https", "mailto"}


def _link_html(space_id: str, links: VaultLinks, target: str, label: str | None) -> str:
    path = links.resolve(target)
    text = html.escape(label or target)
    if path is None:
        return f'<a class="wikilink missing" title="no such note">{text}</a>'
    href = f"/ui/spaces/{quote(space_id)}/vault/note?path={quote(path)}"
    return f'<a class="wikilink" href="{html.escape(href)}">{text}</a>'


def render_note(space_id: str, source: str, links: VaultLinks) -> str:
    """The note's Markdown as sanitised HTML, its wikilinks pointing at the console's note page."""
    placeholders: list[str] = []
    nonce = secrets.token_hex(6)  # a placeholder no note can contain by chance

    def hold(match) -> str:
        placeholders.append(_link_html(space_id, links, match.group(1), match.group(2)))
        return f"wl{nonce}n{len(placeholders) - 1}e"

    held = WIKILINK.sub(hold, source)
    rendered = markdown.markdown(held, extensions=["tables", "fenced_code", "sane_lists"])
    clean = bleach.clean(
        rendered, tags=TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS, strip=True
    )
    for n, link in enumerate(placeholders):
        clean = clean.replace(f"wl{nonce}n{n}e", link)
    return clean
