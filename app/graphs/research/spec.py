"""The context specification: which sources research may use, and within which bounds.

With no specification, research uses the vault, memory and graph. Every
field is checked, and an error names the field (``context_spec.urls.max_pages:
...``). Unknown fields are refused, so a misspelt bound is not silently
ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import InvalidInput

MAX_TOP_K = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VaultSource(_Strict):
    """Notes of the space's vault, optionally only some folders or tags."""

    folders: list[str] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=20)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class DocumentsSource(_Strict):
    """The space's documents: the latest active version of each active object."""

    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class UrlSource(_Strict):
    """Web pages to crawl from ``seeds``, breadth first."""

    seeds: list[str] = Field(min_length=1, max_length=10)
    max_pages: int = Field(default=10, ge=1, le=100)
    max_depth: int = Field(default=1, ge=0, le=3)
    same_host: bool = True
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class DataSource(_Strict):
    """Tabular files in the vault (CSV, JSON, Parquet); empty ``files`` means all of them."""

    files: list[str] = Field(default_factory=list, max_length=20)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class MemorySource(_Strict):
    """The space's Mem0 memories nearest to the query."""

    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class GraphSource(_Strict):
    """Entities named in the query and their neighbourhood in the space graph."""

    hops: int = Field(default=1, ge=1, le=3)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class ContextSpec(_Strict):
    """Which sources to use; a source left out (or ``null``) is not used."""

    vault: VaultSource | None = None
    documents: DocumentsSource | None = None
    urls: UrlSource | None = None
    data: DataSource | None = None
    memory: MemorySource | None = None
    graph: GraphSource | None = None

    def agents(self) -> list[str]:
        """The sub-agents this specification calls for, in a fixed order."""
        chosen = [
            ("files", self.vault or self.documents),
            ("links", self.urls),
            ("data", self.data),
            ("memory", self.memory),
            ("graph", self.graph),
        ]
        return [name for name, source in chosen if source is not None]


DEFAULT_SPEC = ContextSpec(vault=VaultSource(), memory=MemorySource(), graph=GraphSource())


def parse_spec(raw: object) -> ContextSpec:
    """The checked specification (the default when ``raw`` is ``None``), or ``InvalidInput``."""
    if raw is None:
        return DEFAULT_SPEC
    if isinstance(raw, ContextSpec):
        return raw
    if not isinstance(raw, dict):
        raise InvalidInput("context_spec must be an object")
    try:
        spec = ContextSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"context_spec.{where}: {first['msg']}") from None
    if not spec.agents():
        raise InvalidInput(
            "context_spec names no source: use vault, documents, urls, data, memory or graph"
        )
    return spec


def spec_json(spec: ContextSpec) -> dict[str, Any]:
    """The specification as plain JSON (for state and for ``Send`` payloads)."""
    return spec.model_dump(exclude_none=True)
