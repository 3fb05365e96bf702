"""``spaces ui --user alice``: a one-time login link to the web console.

The link carries a random token that works once, for two minutes (see
``app/server/console/sessions.py``); the server exchanges it for a session
cookie, so no lasting secret is ever pasted into a URL.
"""

from __future__ import annotations

import argparse

from app.cli.output import Handler
from app.errors import InvalidInput
from app.server.console.sessions import LOGIN_TTL_S, issue_login
from app.settings import Settings
from app.spaces.startup import open_backends

DEFAULT_URL = "http://127.0.0.1:2024"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``spaces ui``."""
    u = sub.add_parser("ui", help="print a one-time login link to the web console (/ui/)")
    u.add_argument("--user", required=True, help="the user to sign in as")
    u.add_argument(
        "--url", default=DEFAULT_URL, help=f"the server's address (default {DEFAULT_URL})"
    )


def ui_command(args: argparse.Namespace, settings: Settings) -> int:
    """Store a login token for the user and print the link that spends it."""
    base = args.url.rstrip("/")
    if not base.startswith(("http://", "https://")) or any(c in base for c in "?#\n "):
        raise InvalidInput("--url must be the server's http(s) address, e.g. " + DEFAULT_URL)
    backends = open_backends(settings)
    try:
        token = issue_login(backends.pool, args.user)
    finally:
        backends.close()
    print(f"{base}/ui/login?token={token}")
    print(f"(works once, for {LOGIN_TTL_S} s)")
    return 0


COMMANDS: dict[str, Handler] = {"ui": ui_command}
