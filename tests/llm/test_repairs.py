"""Repairs of the model's last answer and citation checks, on their own (no servers)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from app.errors import InvalidInput
from app.graphs.citations import check_citations, count_marks
from app.graphs.rpi.planning import minimal_plan, repair_plan, salvage_facts, validate_plan
from app.graphs.rpi.state import Plan
from app.llm.resolve import model_names
from app.llm.structured import split_method, structured_args


def _shape(plan: dict) -> list[tuple[str, list[str]]]:
    return [(s["id"], s["depends_on"]) for s in plan["steps"]]


def test_ids_that_are_dates_or_uuids_are_renumbered_and_their_dependencies_follow() -> None:
    raw = {
        "title": "T",
        "steps": [
            {"id": "2024-01-01", "description": "a"},
            {"id": "7f0c2e1a-uuid/x", "description": "b", "depends_on": ["2024-01-01"]},
            {"id": "7f0c2e1a-uuid/x", "description": "c", "depends_on": ["step 2", "9"]},
        ],
    }
    plan, order, repairs = repair_plan(raw, "q")
    assert _shape(plan) == [("s1", []), ("s2", ["s1"]), ("s3", ["s2"])]
    assert order == ["s1", "s2", "s3"]
    assert repairs[0].startswith("renumbered the step ids ('2024-01-01', '7f0c2e1a-uuid/x'")
    assert "dropped s3's dependency on unknown step '9'" in repairs


def test_a_cycle_is_broken_by_list_order() -> None:
    raw = {
        "title": "T",
        "steps": [
            {"id": "a", "description": "a", "depends_on": ["c"]},
            {"id": "b", "description": "b", "depends_on": ["a", "b"]},
            {"id": "c", "description": "c", "depends_on": ["b"]},
            {"id": "d", "description": "d", "depends_on": ["c"]},
        ],
    }
    plan, order, repairs = repair_plan(raw, "q")
    assert _shape(plan) == [("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["c"])]
    assert order == ["a", "b", "c", "d"]
    assert repairs == [
        "broke a dependency cycle: a no longer waits for c",
        "broke a dependency cycle: b no longer waits for b",
    ]


def test_valid_parts_are_kept_and_the_unrepairable_is_named() -> None:
    raw = {"steps": [{"id": 1, "description": "x" * 600}, {"id": 2}, "junk"]}
    plan, _order, repairs = repair_plan(raw, "the query")
    assert plan["title"] == "the query" and len(plan["steps"][0]["description"]) == 500
    assert "dropped step 2: it has no description" in repairs
    Plan.model_validate(plan)
    for bad, why in [
        (None, "the answer had no plan"),
        ({"title": "T", "steps": []}, "the plan has no steps"),
        ({"title": "T", "steps": [{"id": "a"}]}, "none of the plan's steps has a description"),
    ]:
        with pytest.raises(InvalidInput, match=why):
            repair_plan(bad, "q")


def test_a_minimal_plan_comes_from_the_query_and_the_research() -> None:
    research = (
        "P7 runs at 42 bar [1].\n\n## Sources\n\n[1] [[Plant/pump-p7|pump-p7]]\n"
        "[2] [[valve-v3]]\n[3] [[safety]]\n[4] [[crews]]"
    )
    plan, order, repairs = minimal_plan("  Plan a visit\nto P7 ", research, "no steps")
    assert plan["title"] == "Plan a visit to P7" and order == ["s1", "s2"]
    first, second = plan["steps"]
    assert "[1] Plant/pump-p7, [2] valve-v3, [3] safety)" in first["description"]
    assert "[4]" not in first["description"] and second["depends_on"] == ["s1"]
    assert repairs == [
        "the model gave no usable plan (no steps): used a minimal plan from the query"
    ]
    assert validate_plan(plan)[1] == order
    empty, _order, _ = minimal_plan("q" * 900, "Nothing found.\n\n## Sources\n\nNo sources.", "x")
    assert "found no source" in empty["steps"][1]["description"] and len(empty["title"]) == 200
    many = {"title": "T", "steps": [{"id": f"s{n}", "description": "d"} for n in range(25)]}
    assert len(repair_plan(many, "q")[0]["steps"]) == 20


def test_key_facts_keep_their_valid_items() -> None:
    facts, repairs = salvage_facts(
        {
            "facts": ["P7 runs at 42 bar", 3, ""],
            "entities": [{"name": "P7"}, {"name": ""}],
            "relations": [{"source": "P7", "relation": "has pressure!", "target": "42 bar"}],
        }
    )
    assert facts == {
        "facts": ["P7 runs at 42 bar"],
        "entities": [{"name": "P7", "kind": "concept"}],
        "relations": [],
    }
    assert repairs == ["dropped 1 invalid entities", "dropped 1 invalid relations"]


def test_unknown_citations_are_marked_and_code_is_left_alone() -> None:
    sources = [{"n": 1, "text": "Pump P7 operates at 42 bar."}]
    text = "P7 is at 42 bar [1][2], [1, 3] and [4](http://x) `a[5]` x[6]\n```\nb[7]\n```\n[[8]]"
    checked = check_citations(text, sources)
    assert checked.text == (
        "P7 is at 42 bar [1][2?], [1, 3?] and [4](http://x) `a[5]` x[6]\n```\nb[7]\n```\n[[8]]"
    )
    assert checked.unverified_citations == 2 and count_marks(checked.text) == (2, 0)
    again = check_citations(checked.text, sources)
    assert again.text == checked.text and again.unverified_citations == 0


def test_quotes_must_be_in_the_cited_source() -> None:
    sources = [
        {"n": 1, "text": "Pump P7 operates at 42 bar."},
        {"n": 2, "text": "Pump P9 is   spare."},
    ]
    text = (
        '"P7 operates at 42 bar" [1], "pump P9 is spare" [2], “P9 is spare” [1], '
        '"P7 is fine". A "word" and "two words" are not quotes of a source.'
    )
    checked = check_citations(text, sources, query="is P7 fine")
    assert checked.text == (
        '"P7 operates at 42 bar" [1], "pump P9 is spare" [2], “P9 is spare” [1] [quote?], '
        '"P7 is fine" [quote?]. A "word" and "two words" are not quotes of a source.'
    )
    assert checked.unverified_quotes == 2 and count_marks(checked.text) == (0, 2)
    assert check_citations(checked.text, sources).text == checked.text


def test_the_method_suffix_is_explicit_and_only_two_are_read() -> None:
    assert split_method("openai:m@json_schema") == ("openai:m", "json_schema")
    assert split_method("openai:m@tools") == ("openai:m", "tools")
    assert split_method("openai:@cf/meta/llama") == ("openai:@cf/meta/llama", None)
    assert split_method("openai:m@json") == ("openai:m@json", None)
    assert model_names("openai:a@json_schema,offline") == ["openai:a@json_schema", "offline"]
    with pytest.raises(InvalidInput):
        model_names("gpt-4o@tools")


def test_a_structured_answer_is_read_from_a_tool_call_or_the_text() -> None:
    from app.graphs.research.state import Relevant

    called = AIMessage("", tool_calls=[{"name": "Relevant", "args": {"ids": [2]}, "id": "c"}])
    assert structured_args(called, Relevant) == ({"ids": [2]}, None)
    fenced = AIMessage('Here:\n```json\n{"ids": [1, 3]}\n```')
    assert structured_args(fenced, Relevant) == ({"ids": [1, 3]}, None)
    wrapped = AIMessage('{"name": "Relevant", "arguments": {"ids": [4]}}')
    assert structured_args(wrapped, Relevant) == ({"ids": [4]}, None)
    assert structured_args(AIMessage("no idea"), Relevant) == (
        None,
        "the answer had no Relevant object",
    )
