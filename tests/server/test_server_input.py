"""Bad input to the ``/my/`` routes (issue 20): one line, 400 or 422, nothing changed.

A JSON number too large for a float (``1e400`` parses as infinity) used to
answer 500 (the validation error could not be written back as JSON), a NUL
byte in a string 503 ("postgres store failed"), and the events stream of an
unknown or foreign run 200 and then a cut stream.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.server.tokens import issue_token
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from tests.support.deps import graph_deps

SECRET = "input-test-secret-" + "z" * 32


@pytest.fixture
def rest(settings, monkeypatch):
    """The /my/ REST app on the test session's stores."""
    from app.server.app import create_app

    monkeypatch.setenv("SPACES_JWT_SECRET", SECRET)
    Settings.served.cache_clear()  # the served settings are read once per process
    app = create_app(graph_deps(settings))
    return TestClient(app, raise_server_exceptions=False)


def _bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, secret=SECRET)}"}


def _one_line(answer) -> None:
    assert answer.status_code in (400, 422), (answer.status_code, answer.text)
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and len(detail.splitlines()) == 1 and detail, detail


def test_infinite_number_is_bad_input(rest, manager, new_id) -> None:
    sid = new_id("inf")
    raw = '{"space_id": "' + sid + '", "name": "x", "monthly_token_budget": 1e400}'
    headers = {**_bearer("alice"), "Content-Type": "application/json"}
    _one_line(rest.post("/my/spaces", content=raw, headers=headers))
    assert sid not in [c.space_id for c in manager.list_spaces()]


def test_nul_byte_is_bad_input(rest, manager, new_id) -> None:
    sid = new_id("nul")
    _one_line(rest.post("/my/spaces", json={"space_id": sid, "name": "a\x00b"},
                        headers=_bearer("alice")))  # fmt: skip
    assert sid not in [c.space_id for c in manager.list_spaces()]
    config = manager.create_space(SpaceConfig(new_id("nulo"), "N", "alice"))
    body = {"filename": "n.md", "text": "before\x00after"}
    answer = rest.post(f"/my/spaces/{config.space_id}/objects", json=body, headers=_bearer("alice"))
    _one_line(answer)
    assert rest.get(f"/my/spaces/{config.space_id}/objects", headers=_bearer("alice")).json() == []


def test_nul_in_a_patch_or_a_path_is_bad_input(rest, manager, new_id) -> None:
    config = manager.create_space(SpaceConfig(new_id("nulp"), "N", "alice"))
    sid = config.space_id
    _one_line(rest.patch(f"/my/spaces/{sid}", json={"model": "off\x00"}, headers=_bearer("alice")))
    assert manager.get_space(sid).preferred_model == config.preferred_model
    _one_line(rest.get(f"/my/spaces/{sid}/objects/a%00b/versions", headers=_bearer("alice")))
    _one_line(rest.get(f"/my/spaces/{sid}/objects?x=%00", headers=_bearer("alice")))
