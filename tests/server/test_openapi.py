"""The ``/my/`` OpenAPI schema states every answer the routes give, and the id rule."""

from __future__ import annotations

import re

from app.server.served import app


def test_every_route_documents_its_error_answers_and_the_space_id_pattern() -> None:
    schema = app.openapi()
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if path.startswith("/my/")
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        codes = set(op["responses"])
        assert {"400", "401", "404", "429", "503"} <= codes, (path, method, codes)
        if method == "post":
            assert {"409", "423"} <= codes, (path, method, codes)
        for param in op.get("parameters", []):
            if param["name"] == "space_id":
                pattern = param["schema"]["pattern"]
                assert re.fullmatch(pattern, "alice_lab") and not re.fullmatch(pattern, "Bad-Id")
                assert param["schema"]["maxLength"] == 48
    new_space = schema["components"]["schemas"]["NewSpace"]["properties"]["space_id"]
    assert "pattern" in new_space and "maxLength" in new_space
