"""What every console page shares: templates, the signed-in user, forms, CSRF, errors.

Pages are rendered on the server by Jinja2 with autoescaping on, so a name,
a note or agent output a user wrote is text, never markup; the one place
that emits HTML from user text is ``markdown_view.render_note``, which
sanitises it. Every response forbids inline scripts and foreign origins
(Content-Security-Policy), so markup that got through anyway would not run.

Writes are POSTed forms. Each must carry the session's CSRF token, and a
browser's ``Origin`` (when sent) must be this server's; the cookie is also
``SameSite=Strict``, so a cross-site form does not even carry it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from app.errors import InvalidInput
from app.server.console.sessions import COOKIE, Session, csrf_ok, session_of

HERE = Path(__file__).resolve().parent
FORM_MAX = 12 * 1024 * 1024  # an upload: the documents cap (10 MiB) plus the form around it
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # a login link never leaks to another site
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,  # loaded once: no file checks on the event loop
    trim_blocks=True,
    lstrip_blocks=True,
)


class SignInRequired(Exception):
    """No live session cookie: answered with the sign-in page (401)."""


class Refused(Exception):
    """A write without a valid CSRF token or from another origin (403)."""


@dataclass
class Form:
    """A posted form: text fields and uploaded files (name -> (filename, bytes))."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """The first value of a text field."""
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        """Every value of a repeated field (checkboxes)."""
        return self.fields.get(name, [])


def pool(request: Request) -> Any:
    """The registry database pool of the served app."""
    return request.app.state.deps.backends.pool


def manager(request: Request) -> Any:
    """A ``SpaceManager`` on the served app's shared connections."""
    return request.app.state.deps.manager()


def signed_in(request: Request) -> Session:
    """The session of the browser's cookie, or ``SignInRequired``."""
    session = session_of(pool(request), request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired()
    return session


async def read_form(request: Request) -> Form:
    """Parse a urlencoded or multipart body (bounded) without a form library."""
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) > FORM_MAX:
            raise Refused("the form is too large")
    body = bytes(buffer)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = _multipart(kind, body)
    else:
        form = Form(fields=parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    if any("\x00" in v for values in form.fields.values() for v in values):
        raise InvalidInput("a form field may not contain a NUL byte")
    return form


def _multipart(kind: str, body: bytes) -> Form:
    head = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    form = Form()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            form.files[str(name)] = (str(filename), data)
        else:
            form.fields.setdefault(str(name), []).append(data.decode("utf-8", "replace"))
    return form


async def write_form(request: Request) -> tuple[Session, Form]:
    """A signed-in write: the session, and the form once its CSRF token and origin check out."""
    session = await run_in_threadpool(signed_in, request)
    check_origin(request)
    form = await read_form(request)
    given = form.get("csrf") or request.headers.get("x-csrf-token")
    if not csrf_ok(session, given):
        raise Refused("missing or wrong CSRF token: reload the page and try again")
    return session, form


def check_origin(request: Request) -> None:
    """Refuse a POST a browser sent from another site (its ``Origin`` is not ours)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request):
        raise Refused("cross-origin write refused")


def own_origin(request: Request) -> str:
    """This server's origin as the browser sees it (scheme and Host)."""
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def page(
    request: Request, name: str, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render template ``name`` for the signed-in user (or nobody) with the security headers."""
    html = templates.get_template(name).render(
        user=session.user if session else None,
        csrf=session.csrf if session else "",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
