"""Embedders by name, resolved where they are used.

``SPACES_EMBEDDINGS`` names one:

- ``wordllama`` (default): WordLlama's static ``l2_supercat`` embeddings,
  256 dimensions, shipped inside the PyPI wheel, so nothing is downloaded and
  no torch is needed. docs/stores.md "Memory, recall and embeddings" says why this is the default.
- ``openai:<model>`` or ``openai:<model>:<dims>``: any OpenAI-compatible
  embeddings endpoint (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).

A space's memory table (or Qdrant collection) takes its dimension from the
embedder it was created with; opening it with an embedder of another
dimension is an error. ``embedder_dims`` knows the dimension without loading
the model, so opening a space's memory does not pay for the model.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InvalidInput
from app.settings import Settings, ensure_home

_OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


@dataclass(frozen=True)
class Embedder:
    """A LangChain embeddings object together with its output dimension."""

    name: str
    model: Any  # a langchain_core.embeddings.Embeddings
    dims: int


def _wordllama_embeddings(cache_dir: Path) -> Any:
    """A LangChain ``Embeddings`` over WordLlama (normalised vectors).

    Defined on call so that importing this module does not import LangChain,
    which costs the CLI half a second on every command.
    """
    from langchain_core.embeddings import Embeddings

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from wordllama import WordLlama

    # WordLlama calls logging.basicConfig(level=INFO) when imported, which would
    # print every HTTP request of every library; put the root logger back.
    root.handlers[:] = handlers
    root.setLevel(level)
    model = WordLlama.load(cache_dir=_wordllama_cache(cache_dir), disable_download=True)

    class WordLlamaEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return model.embed(texts, norm=True).tolist() if texts else []

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    return WordLlamaEmbeddings()


def _wordllama_cache(cache_dir: Path) -> Path:
    """Lay out WordLlama's tokenizer where ``load`` looks for it.

    The wheel ships the tokenizer under ``tokenizers/`` but ``load`` looks in
    ``<cache>/tokenizers/`` and would otherwise try to download it.
    """
    import wordllama

    src = Path(wordllama.__file__).parent / "tokenizers" / "l2_supercat_tokenizer_config.json"
    dst = cache_dir / "tokenizers" / src.name
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return cache_dir


def embedder_dims(name: str) -> int:
    """The dimension ``name`` makes, without loading the model (opening memory is cheap)."""
    if name == "wordllama":
        return 256
    parts = name.split(":")
    if name.startswith("openai:") and len(parts) == 3 and parts[2].isdigit():
        return int(parts[2])
    if name.startswith("openai:") and len(parts) == 2 and parts[1] in _OPENAI_DIMS:
        return _OPENAI_DIMS[parts[1]]
    raise InvalidInput(f"unknown embeddings {name!r}: use 'wordllama' or 'openai:<model>:<dims>'")


def resolve_embedder(name: str, settings: Settings) -> Embedder:
    """Build the embedder called ``name`` (see module docstring for the names)."""
    if name == "wordllama":
        ensure_home(settings)  # its cache lives there: say where, if this makes it
        return Embedder(name, _wordllama_embeddings(settings.home / "cache" / "wordllama"), 256)
    if name.startswith("openai:"):
        parts = name.split(":")
        model = parts[1] if len(parts) > 1 else ""
        if len(parts) == 3 and parts[2].isdigit():
            dims = int(parts[2])
        elif len(parts) == 2 and model in _OPENAI_DIMS:
            dims = _OPENAI_DIMS[model]
        else:
            raise InvalidInput(
                f"unknown embeddings {name!r}: give the dimension as openai:<model>:<dims>"
            )
        from langchain_openai import OpenAIEmbeddings

        return Embedder(
            name,
            OpenAIEmbeddings(
                model=model,
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key or "unset",
                # The length check needs tiktoken's encodings, a download: skip it.
                check_embedding_ctx_length=False,
                max_retries=2,
            ),
            dims,
        )
    raise InvalidInput(f"unknown embeddings {name!r}: use 'wordllama' or 'openai:<model>'")
