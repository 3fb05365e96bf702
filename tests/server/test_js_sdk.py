"""The official JS SDK (``@langchain/langgraph-sdk``) drives both servers as stock UIs do.

Slow: it installs the SDK from npm into a cache folder outside the repo
(``SPACES_JS_CACHE``, default ``~/.cache/spaces-js``; nothing is committed)
and runs ``stock_ui.mjs`` with node against ``langgraph dev`` and Aegra:
messages in, the reply from ``values.messages``, HITL interrupts approved,
edited and rejected with ``decisions``, a late ``joinStream``, a failed
turn as a run error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from app.server.tokens import issue_token
from tests.support.served import SECRET, bearer

SDK = "@langchain/langgraph-sdk@1.15.0"
SCRIPT = Path(__file__).with_name("stock_ui.mjs")
pytestmark = pytest.mark.slow


def _sdk_entry() -> Path:
    """The SDK's ESM entry, installed once into the cache folder."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed (apt-get install nodejs npm)")
    cache = Path(os.environ.get("SPACES_JS_CACHE", Path.home() / ".cache" / "spaces-js"))
    entry = cache / "node_modules" / "@langchain" / "langgraph-sdk" / "dist" / "index.js"
    if not entry.exists():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache), SDK],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, f"npm install {SDK} failed:\n{done.stderr[-2000:]}"
    return entry


def _space_with_assistants(url: str, user: str, space_id: str) -> dict[str, str]:
    headers = bearer(user)
    created = httpx.post(f"{url}/my/spaces", json={"space_id": space_id, "name": "JS"},
                         headers=headers, timeout=60)  # fmt: skip
    assert created.status_code == 201, created.text
    for name in ("researcher", "writer"):
        agent = {"name": name, "system_prompt": f"You are a {name}.", "model": "offline"}
        made = httpx.post(f"{url}/my/spaces/{space_id}/agents", json=agent, headers=headers,
                          timeout=60)  # fmt: skip
        assert made.status_code == 201, made.text
    listed = httpx.get(f"{url}/my/spaces/{space_id}/assistants", headers=headers, timeout=60)
    assert listed.status_code == 200, listed.text
    return {a["name"]: a["assistant_id"] for a in listed.json()}


def test_the_js_sdk_drives_the_server_as_stock_uis_do(server) -> None:
    entry = _sdk_entry()
    assistants = _space_with_assistants(server, "jsuser", "js_space")
    env = {
        **os.environ,
        "SDK_ENTRY": entry.as_uri(),
        "SERVER_URL": server,
        "TOKEN": issue_token("jsuser", secret=SECRET),
        "SPACE_ID": "js_space",
        "ASSISTANTS": json.dumps(assistants),
    }
    done = subprocess.run(["node", str(SCRIPT)], capture_output=True, text=True, env=env,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.count("ok ") == 8, done.stdout
