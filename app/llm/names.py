"""Model names as text: a spec's parts, checked without loading a model library.

A spec is ``name`` or ``a,b,c`` (a fallback chain); a name is ``offline``,
``openai:<model>`` (or ``openai/<model>``) or a test's ``scripted:...``,
optionally with ``@tools``/``@json_schema`` for the structured-output
method. Checking a name is done wherever one is stored (a space's
preferred model, an agent's model), so it must not import langchain:
``resolve.py`` turns names into models, where a model is used.
"""

from __future__ import annotations

from app.errors import InvalidInput

METHODS = ("tools", "json_schema")
DEFAULT_METHOD = "tools"
MODEL_NAME_MAX = 200
SCRIPTED = "scripted:"


def split_method(name: str) -> tuple[str, str | None]:
    """``openai:m@json_schema`` -> ``("openai:m", "json_schema")``; no known suffix -> ``None``."""
    base, sep, suffix = name.rpartition("@")
    if sep and base and suffix in METHODS:
        return base, suffix
    return name, None


def model_names(spec: str) -> list[str]:
    """Split and check a model spec (``a`` or ``a,b,c``)."""
    if not isinstance(spec, str) or not spec.strip() or len(spec) > MODEL_NAME_MAX:
        raise InvalidInput(f"model must be 1 to {MODEL_NAME_MAX} characters")
    names = [n.strip() for n in spec.split(",")]
    for name in names:
        base, _method = split_method(name)
        if base != "offline" and not (
            base.startswith(("openai:", "openai/", SCRIPTED)) and len(base) > len("openai:")
        ):
            raise InvalidInput(f"unknown model {name!r}: use 'offline' or 'openai:<model>'")
    return names
