"""LinkCrawler's fetching: bounded, same-host, and closed to private addresses.

Every request is bounded: connect and read timeouts, a byte cap (a larger
page is cut at the cap and says so), a content-type check (HTML and text
only), at most ``MAX_REDIRECTS`` redirects, each checked like the original
URL, and loops refused. Hosts that resolve to loopback, private, link-local
or reserved addresses are refused unless settings allow them
(``SPACES_ALLOW_PRIVATE_URLS``; the tests use a local site).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup

MAX_BYTES = 2_000_000
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown")


class FetchError(Exception):
    """A URL that was refused or could not be fetched; the message says why."""


@dataclass(frozen=True)
class Page:
    """A fetched page as text, with the links found in it."""

    url: str
    title: str
    text: str
    links: list[str]
    truncated: bool


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse non-HTTP(S) URLs and hosts that resolve to non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: only http(s) URLs with a host are fetched")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise FetchError(f"{url}: cannot resolve {parts.hostname}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(
                f"{url}: {parts.hostname} is a private or loopback address ({address}); "
                "set SPACES_ALLOW_PRIVATE_URLS=1 to allow it"
            )


def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    declared = response.headers.get("content-length")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BYTES:
            return b"".join(chunks)[:MAX_BYTES], True
    body = b"".join(chunks)
    return body, bool(declared and declared.isdigit() and int(declared) > len(body))


def fetch(client: httpx.Client, url: str, *, allow_private: bool) -> Page:
    """Fetch one page within the bounds above, following redirects by hand."""
    seen: set[str] = set()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if current in seen:
            raise FetchError(f"{url}: redirect loop through {current}")
        seen.add(current)
        check_url(current, allow_private=allow_private)
        try:
            with client.stream("GET", current) as response:
                if response.is_redirect:
                    target = response.headers.get("location", "")
                    current = urldefrag(urljoin(current, target)).url
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"{current}: HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in TEXT_TYPES:
                    raise FetchError(f"{current}: content type {kind or 'unknown'} is not text")
                body, truncated = _read_capped(response)
                encoding = response.encoding or "utf-8"
        except httpx.HTTPError as exc:
            raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from None
        return _page(current, body.decode(encoding, "replace"), kind, truncated)
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _page(url: str, raw: str, kind: str, truncated: bool) -> Page:
    if kind in ("text/plain", "text/markdown"):
        return Page(url, url, raw, [], truncated)
    soup = BeautifulSoup(raw, "lxml")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else url
    links = [
        urldefrag(urljoin(url, a["href"])).url
        for a in soup.find_all("a", href=True)
        if not str(a["href"]).startswith(("mailto:", "javascript:"))
    ]
    text = "\n\n".join(
        " ".join(block.split()) for block in soup.get_text("\n\n").split("\n\n") if block.strip()
    )
    return Page(url, title, text, links, truncated)


def crawl(
    seeds: list[str],
    *,
    max_pages: int,
    max_depth: int,
    same_host: bool,
    allow_private: bool,
    on_visit: Callable[[str], None] = lambda url: None,
) -> tuple[list[Page], list[str]]:
    """Breadth-first crawl from ``seeds``; return the pages and the errors met."""
    pages: list[Page] = []
    errors: list[str] = []
    queue = [(urldefrag(s).url, 0) for s in seeds]
    seen = {u for u, _ in queue}
    hosts = {urlsplit(u).hostname for u, _ in queue}
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        while queue and len(pages) < max_pages:
            url, depth = queue.pop(0)
            on_visit(url)
            try:
                page = fetch(client, url, allow_private=allow_private)
            except FetchError as exc:
                errors.append(str(exc))
                continue
            pages.append(page)
            if depth >= max_depth:
                continue
            for link in page.links:
                if link in seen or (same_host and urlsplit(link).hostname not in hosts):
                    continue
                if urlsplit(link).scheme in ("http", "https"):
                    seen.add(link)
                    queue.append((link, depth + 1))
    return pages, errors
