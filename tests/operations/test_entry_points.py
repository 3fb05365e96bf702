"""The CLI and the HTTP app act only through ``app/operations/``, and agree on every error.

Read from the source (``ast``), every import of ``app/cli`` and
``app/server``: what they may take from ``app.spaces`` is the manager,
the records, connections and start-up, and the run registry (runs are the
graphs' to check). Everything that checks a role, audits or writes a store
is an operation. The operations themselves import no entry point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import errors
from app.cli import COMMANDS
from app.cli.parser import build_parser
from app.server.tokens import TokenError

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = ("cli", "server")
ALLOWED = (
    "app.spaces.space_manager",
    "app.spaces.model",
    "app.spaces.infra",
    "app.spaces.startup",
    "app.spaces.stores.run_records",
)


def _imports(package: str) -> dict[str, set[str]]:
    """Module path -> every dotted name it imports (at any depth, lazily or not)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "app" / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def _reaches_into_spaces(names: set[str]) -> set[str]:
    spaces = {n for n in names if n.startswith("app.spaces.")}
    return {n for n in spaces if not n.startswith(ALLOWED)}


def test_entry_points_take_no_store_or_role_check_but_through_operations() -> None:
    offending = {
        module: sorted(_reaches_into_spaces(names))
        for package in ENTRY_POINTS
        for module, names in _imports(package).items()
        if _reaches_into_spaces(names)
    }
    assert not offending, f"entry points reaching past app/operations: {offending}"


def test_the_check_itself_finds_a_store_import() -> None:
    assert _reaches_into_spaces({"app.spaces.stores.documents.DocumentStore"})
    assert _reaches_into_spaces({"app.spaces.access.members.audited"})
    assert not _reaches_into_spaces({"app.spaces.space_manager.SpaceManager"})


def test_operations_import_no_entry_point() -> None:
    up = {
        module: sorted(n for n in names if n.startswith(("app.cli", "app.server")))
        for module, names in _imports("operations").items()
    }
    assert not any(up.values()), up


def test_every_command_has_a_handler_and_every_handler_a_command() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(sub.choices) == set(COMMANDS)


# Each class's two answers; the CLI prints the line and exits with the first,
# REST and the console answer with the second.
ANSWERS = {
    errors.InvalidInput: (2, 400),
    errors.ContextTooSmall: (2, 400),
    errors.SpaceNotFound: (2, 404),
    errors.PermissionDenied: (2, 403),
    errors.SpaceExists: (2, 409),
    errors.SpaceArchived: (2, 423),
    errors.BudgetExceeded: (2, 400),
    TokenError: (2, 400),  # 401 comes from where a request's token is read
}


@pytest.fixture(scope="module")
def http(settings):
    """The project's HTTP app (``create_app``) with one route that raises what it is told."""
    from app.graphs.deps import Deps
    from app.server.app import create_app

    app = create_app(Deps.from_settings(settings))
    made = {
        "store": errors.StoreUnavailable("postgres", "connection refused"),
        "model": errors.ModelUnavailable("timed out"),
        **{cls.__name__: cls(f"{cls.__name__} line") for cls in ANSWERS},
    }

    @app.get("/raise/{name}")
    def raising(name: str) -> None:
        raise made[name]

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("cls", list(ANSWERS), ids=lambda c: c.__name__)
def test_each_error_answers_with_its_own_status_and_one_line(http, cls) -> None:
    exit_code, status = ANSWERS[cls]
    assert (cls.exit_code, cls.http_status) == (exit_code, status)
    answer = http.get(f"/raise/{cls.__name__}")
    assert answer.status_code == status
    expected = "that space id is not available" if cls is errors.SpaceExists else "line"
    assert expected in answer.json()["detail"] and "\n" not in answer.json()["detail"]


@pytest.mark.parametrize("name", ["store", "model"])
def test_a_failing_store_or_model_is_503_and_exit_1(http, name) -> None:
    answer = http.get(f"/raise/{name}")
    assert answer.status_code == 503
    assert errors.StoreUnavailable.exit_code == errors.ModelUnavailable.exit_code == 1
