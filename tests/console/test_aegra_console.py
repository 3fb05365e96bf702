"""The console on Aegra (``spaces serve``): the same ``http.app``, so the same pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from app.server.console.sessions import issue_login
from app.spaces.infra.backends import Backends
from tests.aegraserver import start_aegra, stop_aegra
from tests.conftest import ROOT, make_settings
from tests.console.conftest import SECRET
from tests.console.helpers import create_space


@pytest.fixture(scope="module")
def aegra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Backends]]:
    home = tmp_path_factory.mktemp("console-aegra")
    url = start_aegra(home, SECRET, PYTHONPATH=str(ROOT))[0]
    backends = Backends(make_settings(home))
    try:
        yield url, backends
    finally:
        backends.close()
        stop_aegra(home, SECRET)


@pytest.mark.slow
def test_sign_in_create_a_space_and_approve_a_run_on_aegra(aegra, browser) -> None:
    url, backends = aegra
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto(f"/ui/login?token={issue_login(backends.pool, 'alice')}")
    page.get_by_role("button", name="Sign in").click()
    create_space(page, "aegra_lab", "Aegra lab")
    assert page.request.get("/my/spaces").status == 401  # the cookie is no bearer token
    page.goto("/ui/spaces/aegra_lab/runs")
    form = page.get_by_role("form", name="Start a run")
    form.get_by_label("Question").fill("How are ledger blocks made final?")
    form.get_by_role("button", name="Start run").click()
    modal = page.get_by_role("dialog", name="Plan approval")
    expect(modal).to_be_visible(timeout=90_000)
    modal.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("completed", timeout=120_000)
    context.close()
