"""``spaces down`` and ``spaces model serve``: the local services this project starts.

The embedded Postgres, FalkorDB, Redis, the Aegra instances and the local
model run as background processes found again by their state files;
``down`` stops whichever of them runs, ``model serve`` starts llama-server
on loopback and prints the environment that points runs at it.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import Handler
from app.llm import local as local_model
from app.services.aegra import stop_instances
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.services.redis import stop_redis
from app.settings import Settings


def add_commands(sub: Any) -> None:
    """Register ``down`` and ``model``."""
    sub.add_parser("down", help="stop the embedded services this project started")
    m = sub.add_parser("model", help="the local model (build it first: make local-model)")
    m.add_argument("action", choices=["serve"], help="serve: start it on loopback")


def down(args: argparse.Namespace, settings: Settings) -> int:
    """Stop every embedded service that runs; say which."""
    services = (("aegra", stop_instances), ("redis", stop_redis), ("postgres", stop_postgres),
                ("falkordb", stop_graph_server), ("local model", local_model.stop))  # fmt: skip
    stopped = [name for name, stop in services if stop(settings)]
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def model(args: argparse.Namespace, settings: Settings) -> int:
    """Start the local model (once) and print the ``export`` lines for it."""
    state = local_model.serve(settings)
    print("\n".join(f"export {k}={v}" for k, v in local_model.model_env(state).items()))
    return 0


COMMANDS: dict[str, Handler] = {"down": down, "model": model}
