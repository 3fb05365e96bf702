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
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup

MAX_BYTES = 2_000_000
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
FETCH_DEADLINE_S = 30.0  # a whole page, however slowly it trickles in
# Compressed bodies could expand far beyond the cap before it is checked.
HEADERS = {"Accept-Encoding": "identity", "User-Agent": "spaces-research/0.1"}
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
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"{url}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: only http(s) URLs with a host are fetched")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 80, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise FetchError(f"{url}: cannot resolve {parts.hostname}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(
                f"{url}: {parts.hostname} is a private or loopback address ({address}); "
                "set SPACES_ALLOW_PRIVATE_URLS=1 to allow it"
            )


def _read_capped(response: httpx.Response, deadline: float) -> tuple[bytes, bool]:
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        raise FetchError(f"{response.url}: compressed bodies are not accepted")
    declared = response.headers.get("content-length")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BYTES:
            return b"".join(chunks)[:MAX_BYTES], True
        if time.monotonic() > deadline:
            raise FetchError(f"{response.url}: slower than {FETCH_DEADLINE_S:.0f} s")
    body = b"".join(chunks)
    return body, bool(declared and declared.isdigit() and int(declared) > len(body))


def fetch(
    client: httpx.Client, url: str, *, allow_private: bool, hosts: set[str] | None = None
) -> Page:
    """Fetch one page within the bounds above, following redirects by hand.

    With ``hosts``, a redirect may not leave those hosts (the same-host rule).
    """
    seen: set[str] = set()
    current = url
    deadline = time.monotonic() + FETCH_DEADLINE_S
    for _ in range(MAX_REDIRECTS + 1):
        if current in seen:
            raise FetchError(f"{url}: redirect loop through {current}")
        seen.add(current)
        check_url(current, allow_private=allow_private)
        if hosts is not None and urlsplit(current).hostname not in hosts:
            raise FetchError(f"{url}: redirected to another host ({current})")
        try:
            with client.stream("GET", current, headers=HEADERS) as response:
                if response.is_redirect:
                    target = response.headers.get("location", "")
                    current = urldefrag(urljoin(current, target)).url
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"{current}: HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in TEXT_TYPES:
                    raise FetchError(f"{current}: content type {kind or 'unknown'} is not text")
                body, truncated = _read_capped(response, deadline)
                encoding = response.encoding or "utf-8"
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
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
    links = []
    for a in soup.find_all("a", href=True)[:1_000]:
        try:
            links.append(urldefrag(urljoin(url, str(a["href"]))).url)
        except ValueError:
            continue  # a malformed link is skipped, not fatal
    text = "\n\n".join(
        " ".join(block.split()) for block in soup.get_text("\n\n").split("\n\n") if block.strip()
    )
    return Page(url, title, text, links, truncated)


def _host(url: str) -> str | None:
    """The host of an http(s) URL, or ``None`` for anything else or malformed."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") else None


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
    hosts = {h for u, _ in queue if (h := _host(u))}
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        while queue and len(pages) < max_pages:
            url, depth = queue.pop(0)
            on_visit(url)
            try:
                page = fetch(
                    client, url, allow_private=allow_private, hosts=hosts if same_host else None
                )
            except FetchError as exc:
                errors.append(str(exc))
                continue
            pages.append(page)
            if depth >= max_depth:
                continue
            for link in page.links:
                host = _host(link)
                if link in seen or host is None or (same_host and host not in hosts):
                    continue
                seen.add(link)
                queue.append((link, depth + 1))
    return pages, errors
