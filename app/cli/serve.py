"""``spaces serve``: the LangGraph Agent Server API, durable, on N Aegra instances.

Starts (or finds running) the embedded Postgres and Redis and the Aegra
instances on consecutive loopback ports, prints their URLs and returns;
``spaces down`` stops them. See docs/serving.md "Serving in production".
"""

from __future__ import annotations

import argparse
import os

from app.cli.output import Handler
from app.services.aegra import serve
from app.settings import Settings

DEFAULT_PORT = 2026


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``spaces serve``."""
    s = sub.add_parser("serve", help="serve the Agent Server API on N Aegra instances")
    s.add_argument("--instances", type=int, default=1)
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the first instance")


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Start what is missing and print one URL per instance."""
    for url in serve(settings, args.instances, args.port, os.environ):
        print(url)
    return 0


COMMANDS: dict[str, Handler] = {"serve": serve_command}
