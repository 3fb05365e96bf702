"""Build tests/data/recall_corpus.jsonl from the docstrings of Python's own stdlib.

The corpus is real text that ships with every Python 3.12: the first
paragraph of the docstring of public functions and classes of a fixed list of
modules, sorted by name, so the file is the same on every machine with the
same Python. The queries (tests/data/recall_queries.json) were written by
hand against it; each names the qualified name(s) that answer it.

Run: .venv/bin/python bench/build_recall_set.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

MODULES = (
    "os",
    "os.path",
    "shutil",
    "json",
    "re",
    "string",
    "textwrap",
    "collections",
    "itertools",
    "functools",
    "math",
    "statistics",
    "datetime",
    "pathlib",
    "random",
    "heapq",
    "bisect",
    "hashlib",
    "base64",
    "zlib",
    "gzip",
    "tarfile",
    "zipfile",
    "csv",
    "sqlite3",
    "socket",
    "subprocess",
    "threading",
    "queue",
    "time",
    "calendar",
    "urllib.parse",
    "html",
    "difflib",
    "fnmatch",
    "glob",
    "tempfile",
    "uuid",
    "secrets",
    "copy",
    "pprint",
    "operator",
    "struct",
    "decimal",
    "fractions",
    "logging",
    "argparse",
    "inspect",
    "platform",
    "signal",
)
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "recall_corpus.jsonl"


def first_paragraph(doc: str) -> str:
    """The docstring's first paragraph that is prose (signatures skipped), one line."""
    for para in inspect.cleandoc(doc).split("\n\n"):
        text = " ".join(para.split())
        if len(text) >= 25 and not re.match(r"^[\w.]+\(", text):
            return text[:700]
    return ""


def main() -> None:
    """Write the corpus and print its size."""
    seen: dict[str, str] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in sorted(dir(module)):
            if attr.startswith("_"):
                continue
            obj = getattr(module, attr)
            if not (inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj)):
                continue
            text = first_paragraph(inspect.getdoc(obj) or "")
            if text and text not in seen.values():
                seen[f"{name}.{attr}"] = text
    with OUT.open("w") as out:
        for key in sorted(seen):
            out.write(json.dumps({"id": key, "text": seen[key]}) + "\n")
    print(f"{len(seen)} documents -> {OUT}")


if __name__ == "__main__":
    main()
