"""Real models fail in known ways; runs recover: re-ask, repair, check citations, switch method.

A local OpenAI-protocol server (``tests/support/fake_openai.py``) plays each failure
seen with real models: a plan with dangling dependencies, an empty
structured output, a citation of a source that does not exist, and a server
that ignores a named ``tool_choice`` (as llama.cpp's ``llama-server`` does)
or refuses ``response_format`` (as some others do).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from langchain_core.messages import HumanMessage

from app.errors import InvalidInput
from app.graphs.rpi.state import Plan
from app.llm.resolve import resolve_chat_model
from app.runner import Runner
from tests.support.deps import graph_deps, node_scope_for
from tests.support.fake_openai import (
    FakeOpenAI,
    completion,
    error,
    llama_server_like,
    no_response_format,
)

GOOD = {
    "title": "Pump report",
    "steps": [
        {"id": "s1", "description": "Collect the pump facts", "depends_on": []},
        {"id": "s2", "description": "Write the report", "depends_on": ["s1"]},
    ],
}
DANGLING = {  # the failure seen with SmolLM2: ids "1", "2", a dependency on "s1"
    "title": "Pump report",
    "steps": [
        {"id": "1", "description": "Collect the pump facts", "depends_on": []},
        {"id": "2", "description": "Write the report", "depends_on": ["s1", "2024-01-01"]},
    ],
}


def _forced(body: dict) -> str | None:
    choice = body.get("tool_choice")
    return choice.get("function", {}).get("name") if isinstance(choice, dict) else None


def _asked_schema(body: dict) -> str | None:
    """The schema a request asks for, by either method."""
    fmt = body.get("response_format") or {}
    return _forced(body) or (fmt.get("json_schema") or {}).get("name")


def _wired(settings, server: FakeOpenAI):
    return dataclasses.replace(settings, openai_base_url=server.base_url, openai_api_key="sk-t")


def _structured(body: dict, args: dict) -> dict:
    """A reply carrying ``args`` by whichever method the request used."""
    name = _asked_schema(body)
    if body.get("response_format"):
        return completion(json.dumps(args))
    return completion(tool_calls=[{"name": name, "args": args}])


def _rpi_responder(plans: list, facts: dict | None = None):
    """Plans in turn (the last one repeats), valid key facts, text for everything else."""
    seen = {"plan": 0}

    def responder(body: dict):
        asked = _asked_schema(body)
        if asked == "Plan":
            plan = plans[min(seen["plan"], len(plans) - 1)]
            seen["plan"] += 1
            return 200, completion("") if plan is None else _structured(body, plan)
        if asked == "KeyFacts":
            return 200, _structured(body, facts or {"facts": ["Pumps run."]})
        return 200, completion("Done [1].", prompt_tokens=50, completion_tokens=10)

    return responder


def _plan_requests(server: FakeOpenAI) -> list[dict]:
    return [r for r in server.requests if _asked_schema(r) == "Plan"]


def test_a_dangling_dependency_is_reasked_then_repaired(settings, space, manager) -> None:
    with FakeOpenAI(_rpi_responder([DANGLING])) as s:
        runner = Runner(_wired(settings, s), graph_deps(_wired(settings, s)))
        waiting = runner.start("rpi", space.space_id, "Report on the pumps", model="openai:m")
    asked = _plan_requests(s)
    assert len(asked) == 3  # the first ask and two re-asks
    reask = asked[1]["messages"][-1]["content"]
    assert "unknown step 's1'" in reask and "Answer again" in reask
    assert waiting.status == "awaiting_approval"
    assert [(st["id"], st["depends_on"]) for st in waiting.plan["steps"]] == [
        ("s1", []),
        ("s2", ["s1"]),
    ]
    repairs = waiting.request["repairs"]
    assert any("renumbered" in r for r in repairs)
    assert any("unknown step '2024-01-01'" in r for r in repairs)
    assert runner.status(waiting.thread_id).to_json()["request"]["repairs"] == repairs
    usage = manager.get_usage(space.space_id)
    assert usage.api_calls_used == 4  # research + three plan calls, each counted


def test_a_reasked_plan_that_comes_back_valid_needs_no_repair(settings, space) -> None:
    with FakeOpenAI(_rpi_responder([DANGLING, GOOD])) as s:
        runner = Runner(_wired(settings, s), graph_deps(_wired(settings, s)))
        waiting = runner.start("rpi", space.space_id, "Report on the pumps", model="openai:m")
        assert len(_plan_requests(s)) == 2
        assert waiting.plan == GOOD and waiting.request["repairs"] == []
        done = runner.resume(waiting.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    # "Done [1]." with no source listed: in the research note and in each of two deliverables
    assert done.to_json()["unverified_citations"] == 3


@pytest.mark.parametrize(
    ("plan", "why"),
    [(None, "the answer had no plan"), ({"title": "T", "steps": []}, "the plan has no steps")],
)
def test_empty_plans_are_reasked_then_repaired_into_a_minimal_plan(
    settings, space, manager, plan, why
) -> None:
    vault = manager.open_space(space.space_id, write=True).vault
    vault.write_note("Plant/pump-p7.md", "Pump P7 runs at 42 bar.")
    with FakeOpenAI(_rpi_responder([plan])) as s:
        runner = Runner(_wired(settings, s), graph_deps(_wired(settings, s)))
        waiting = runner.start("rpi", space.space_id, "Report on the pumps", model="openai:m")
        assert waiting.status == "awaiting_approval", waiting.error
        assert [(st["id"], st["depends_on"]) for st in waiting.plan["steps"]] == [
            ("s1", []),
            ("s2", ["s1"]),
        ]
        assert waiting.plan["title"] == "Report on the pumps"
        assert "[1] pump-p7" in waiting.plan["steps"][0]["description"]
        (repair,) = waiting.request["repairs"]
        assert repair.startswith(f"the model gave no usable plan ({why} after 3 attempts)")
        assert runner.status(waiting.thread_id).to_json()["request"]["repairs"] == [repair]
        done = runner.resume(waiting.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    if plan is None:  # an empty answer switches method: tools, then json_schema, then tools
        methods = [
            "json_schema" if r.get("response_format") else "tools" for r in _plan_requests(s)
        ]
        assert methods == ["tools", "json_schema", "tools"]


def test_an_empty_answer_then_a_plan_completes(settings, space) -> None:
    with FakeOpenAI(_rpi_responder([None, GOOD])) as s:
        runner = Runner(_wired(settings, s), graph_deps(_wired(settings, s)))
        waiting = runner.start("rpi", space.space_id, "Report on the pumps", model="openai:m")
    assert waiting.status == "awaiting_approval" and waiting.plan == GOOD


@pytest.mark.parametrize(
    ("model", "server", "methods"),
    [
        ("openai:m", llama_server_like, ["tools", "json_schema"]),  # falls back
        ("openai:m@json_schema", llama_server_like, ["json_schema"]),  # chosen: one call
        ("openai:m@json_schema", no_response_format, ["json_schema", "tools"]),  # falls back
        ("openai:m@tools", no_response_format, ["tools"]),
    ],
)
def test_structured_output_method_per_model_with_fallback(
    settings, space, model, server, methods
) -> None:
    with FakeOpenAI(server(GOOD)) as s:
        scope = node_scope_for(_wired(settings, s), space.space_id, f"m-{space.space_id}")
        scope.model = model
        plan = scope.ask([HumanMessage("plan it")], schema=Plan)
    assert plan == Plan.model_validate(GOOD)
    sent = ["json_schema" if r.get("response_format") else "tools" for r in s.requests]
    assert sent == methods
    assert {r["model"] for r in s.requests} == {"m"}  # the suffix is ours, never sent
    if "tools" in methods:
        tools_request = s.requests[methods.index("tools")]
        assert _forced(tools_request) == "Plan"


def test_tool_call_arguments_are_reasked(settings, space) -> None:
    from app.graphs.rpi.tools import IMPLEMENT_TOOLS, check_tool_calls

    replies = [
        completion(tool_calls=[{"name": "http_get", "args": {"uri": "http://x.test/"}}]),
        completion(tool_calls=[{"name": "http_get", "args": {"url": "http://x.test/"}}]),
    ]
    with FakeOpenAI(lambda body: (200, replies[min(len(s.requests), 2) - 1])) as s:
        scope = node_scope_for(_wired(settings, s), space.space_id, f"t-{space.space_id}")
        scope.model = "openai:m"
        message = scope.ask(
            [HumanMessage("fetch")], tools=IMPLEMENT_TOOLS, validate=check_tool_calls
        )
    assert message.tool_calls[0]["args"] == {"url": "http://x.test/"}
    tool_answer = s.requests[1]["messages"][-1]
    assert (
        tool_answer["role"] == "tool"
        and "http_get arguments: url: Field required" in (tool_answer["content"])
    )


def test_an_unknown_citation_is_marked_counted_and_reported(settings, space, manager) -> None:
    handle = manager.open_space(space.space_id, write=True)
    handle.vault.write_note("Plant/p7.md", "Pump P7 operates at 42 bar in normal service.")
    body = (
        'P7 operates at 42 bar [1]; the manual says "P7 operates at 42 bar" [1] '
        'and "P7 never needs service" [1]. Its vendor is Acme [2].'
    )

    def responder(req: dict):
        if _asked_schema(req) == "Relevant":
            return 200, _structured(req, {"ids": [1]})
        return 200, completion(body)

    with FakeOpenAI(responder) as s:
        runner = Runner(_wired(settings, s), graph_deps(_wired(settings, s)))
        done = runner.start(
            "research", space.space_id, "At what pressure does pump P7 operate?", model="openai:m",
            context_spec={"vault": {"top_k": 3}},
        )  # fmt: skip
    assert done.status == "completed", done.error
    assert done.to_json()["unverified_citations"] == 1, (done.findings, s.requests[0])
    note = handle.vault.read_note(done.artifacts["research"])
    assert "Acme [2?]" in note.text and "42 bar [1];" in note.text
    assert '"P7 never needs service" [1] [quote?]' in note.text
    assert '"P7 operates at 42 bar" [1] and' in note.text  # found in its source: not marked
    assert note.frontmatter["unverified_citations"] == 1
    assert note.frontmatter["unverified_quotes"] == 1


def test_an_openai_model_with_no_key_and_no_endpoint_is_refused(settings, space) -> None:
    bare = dataclasses.replace(settings, openai_base_url=None, openai_api_key=None)
    refused = Runner(bare, graph_deps(bare)).start(
        "rpi", space.space_id, "Anything", model="openai:gpt-4o-mini"
    )
    assert refused.status == "failed" and refused.refused
    assert refused.error == (
        "model 'openai:gpt-4o-mini' needs OPENAI_API_KEY or OPENAI_BASE_URL; neither is set"
    )
    with pytest.raises(InvalidInput, match="neither is set"):
        resolve_chat_model("openai:gpt-4o-mini", bare)


FAKE_SERVER = """#!{python}
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *a):
        pass

args = sys.argv
HTTPServer((args[args.index("--host") + 1], int(args[args.index("--port") + 1])), H).serve_forever()
"""


def test_model_serve_and_down_manage_the_local_server(tmp_path) -> None:
    """``spaces model serve`` without a build says so; with one it serves on loopback until down."""
    import os
    import sys

    from app.llm import local
    from tests.support.cli import run_cli
    from tests.support.settings import make_settings

    home = make_settings(tmp_path)
    unbuilt = run_cli(home, "model", "serve")
    assert unbuilt.returncode == 2
    assert unbuilt.stderr == "spaces: the local model is not built: run 'make local-model' first\n"
    binary = local.server_binary(home)
    binary.parent.mkdir(parents=True)
    binary.write_text(FAKE_SERVER.format(python=sys.executable))
    binary.chmod(0o755)
    local.model_file(home).write_bytes(b"GGUF")
    served = run_cli(home, "model", "serve")
    try:
        assert served.returncode == 0, served.stderr
        lines = dict(ln.removeprefix("export ").split("=", 1) for ln in served.stdout.splitlines())
        assert lines["SPACES_MODEL"] == "openai:smollm2@json_schema"
        assert lines["OPENAI_BASE_URL"].startswith("http://127.0.0.1:")
        pid = local.running(home)["pid"]
        assert run_cli(home, "model", "serve").stdout == served.stdout  # the same server
        down = run_cli(home, "down")
        assert "local model" in down.stdout and local.running(home) is None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        local.stop(home)  # if an assertion failed with it running


def test_an_answer_cut_at_the_output_limit_is_counted_and_reasked(settings, space, manager) -> None:
    cut = completion('{"title": "Pump report", "steps": [{"id": "s1", "descr')
    cut["choices"][0]["finish_reason"] = "length"
    replies = [cut, completion(json.dumps(GOOD))]
    with FakeOpenAI(lambda body: (200, replies[min(len(s.requests), 2) - 1])) as s:
        scope = node_scope_for(_wired(settings, s), space.space_id, f"c-{space.space_id}")
        scope.model = "openai:m@json_schema"
        plan = scope.ask([HumanMessage("plan it")], schema=Plan)
    assert plan == Plan.model_validate(GOOD)
    assert all(r.get("response_format") for r in s.requests)  # cut off is no method failure
    assert "cut off at the output limit" in s.requests[1]["messages"][-1]["content"]
    usage = manager.get_usage(space.space_id)
    assert usage.api_calls_used == 2 and usage.tokens_used == 240  # the cut answer is paid too


def test_a_tool_call_the_server_could_not_parse_is_reasked(settings, space) -> None:
    """llama-server answers 500 when the model's tool-call JSON is broken (slow test, 1 in 10)."""
    from app.graphs.rpi.tools import IMPLEMENT_TOOLS, check_tool_calls

    def responder(body: dict):
        last = body["messages"][-1]
        if "could not be read" not in str(last.get("content")):
            return error(500, "Failed to parse tool call arguments as JSON: [json.exception]")
        return 200, completion(tool_calls=[{"name": "http_get", "args": {"url": "http://x/"}}])

    with FakeOpenAI(responder) as s:
        scope = node_scope_for(_wired(settings, s), space.space_id, f"u-{space.space_id}")
        scope.model = "openai:m"
        message = scope.ask(
            [HumanMessage("fetch")], tools=IMPLEMENT_TOOLS, validate=check_tool_calls
        )
        assert message.tool_calls[0]["args"] == {"url": "http://x/"}
        # Without a validator (chat tasks) the re-ask holds too.
        plain = scope.ask([HumanMessage("fetch")], tools=IMPLEMENT_TOOLS)
    assert plain.tool_calls[0]["name"] == "http_get"
    reask = s.requests[-1]["messages"][-1]["content"]
    assert "Failed to parse tool call arguments" in reask and "valid JSON" in reask


def test_a_tool_call_never_readable_fails_in_one_line(settings, space) -> None:
    """Three unreadable answers: ``InvalidOutput`` with no message to fall back on."""
    from app.graphs.rpi.tools import IMPLEMENT_TOOLS
    from app.llm.structured import InvalidOutput

    broken = error(500, "Failed to parse tool call arguments as JSON")
    with FakeOpenAI(lambda body: broken) as s:
        scope = node_scope_for(_wired(settings, s), space.space_id, f"v-{space.space_id}")
        scope.model = "openai:m"
        with pytest.raises(InvalidOutput, match="unusable after 3 attempts") as caught:
            scope.ask([HumanMessage("fetch")], tools=IMPLEMENT_TOOLS)
    assert caught.value.last is None and "\n" not in str(caught.value)


def test_the_bench_reads_sources_whose_lines_were_joined() -> None:
    """obsidiantools joins a note's source lines; every listed [n] still counts."""
    from bench.real_model_bench import _listed

    joined = "Body [2].\n\n## Sources\n\n[1] [[Plant/b1]] [2] [[Plant/v3]] [3] https://x.test/\n"
    assert [s["n"] for s in _listed(joined)] == [1, 2, 3]


def test_the_heldout_set_is_varied_and_split() -> None:
    from bench.real_model_bench import heldout_set

    spaces, queries = heldout_set()
    assert len(spaces) == 3 and len(queries) >= 30
    assert {q["space"] for q in queries} == set(spaces)
    kinds = {"question", "plan", "schedule", "summary", "comparison", "no answer"}
    for part in ("tuning", "heldout"):
        mine = [q for q in queries if q["part"] == part]
        assert {q["kind"] for q in mine} == kinds if part == "heldout" else len(mine) >= 10
    assert len({q["query"] for q in queries}) == len(queries)  # no query in both parts
    assert heldout_set("heldout")[1] == [q for q in queries if q["part"] == "heldout"]
