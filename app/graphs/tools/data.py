"""DataAnalyst's tools: load a tabular file of the space within bounds, compute statistics.

No code is generated or executed: the analyst can only call the functions
here (describe, numeric summary, top values) on a pandas DataFrame. Files
are read from the space's vault only, at most ``MAX_FILE_BYTES`` and
``MAX_ROWS`` rows (a larger table is analysed on its first rows and the
finding says so). A binary file with a ``.csv`` name is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.text import words

MAX_FILE_BYTES = 200_000_000
MAX_JSON_BYTES = 20_000_000  # a JSON document is parsed whole: about 8x its size in memory
MAX_DECODED_BYTES = 300_000_000  # Parquet compresses well: bound what it expands to
MAX_COLUMNS = 500
MAX_ROWS = 200_000
SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
SMALL_TABLE_ROWS = 10  # a table this small is quoted whole
ROWS_QUOTED = 5  # of a larger one, at most this many rows naming the query's words
SEARCHED_COLUMNS = 10


class DataError(Exception):
    """A file that cannot be analysed; the message says why."""


@dataclass(frozen=True)
class Table:
    """A loaded table and how much of the file it covers."""

    frame: pd.DataFrame
    capped: bool


def _looks_binary(path: Path) -> bool:
    head = _head(path)
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte character cut by the 8 KB window is fine
    return False


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(8192)


def load_table(path: Path) -> Table:
    """Read a CSV, JSON (records or lines) or Parquet file within the bounds."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path.name} is {size:,} bytes, over the {MAX_FILE_BYTES:,} byte limit")
    suffix = path.suffix.lower()
    if suffix == ".json" and size > MAX_JSON_BYTES:
        raise DataError(
            f"{path.name} is {size:,} bytes; JSON documents are read whole, so the limit is "
            f"{MAX_JSON_BYTES:,} (use JSON lines for more)"
        )
    try:
        if suffix == ".parquet":
            return _load_parquet(path)
        if _looks_binary(path):
            raise DataError(f"{path.name} is not a text file")
        if suffix == ".csv":
            frame = pd.read_csv(path, nrows=MAX_ROWS + 1, low_memory=False)
        else:
            frame = pd.read_json(
                path, lines=suffix == ".jsonl", nrows=MAX_ROWS + 1 if suffix == ".jsonl" else None
            )
    except (ValueError, TypeError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name} cannot be read as a table: {str(exc)[:200]}") from None
    except ImportError as exc:  # pyarrow missing in a trimmed install
        raise DataError(f"{path.name}: Parquet support is not installed ({exc})") from None
    return Table(frame.head(MAX_ROWS), len(frame) > MAX_ROWS)


def _load_parquet(path: Path) -> Table:
    """Whole row groups, while their decoded size and row count stay within the bounds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    if meta.num_columns > MAX_COLUMNS:
        raise DataError(f"{path.name} has {meta.num_columns} columns; the limit is {MAX_COLUMNS}")
    groups, rows, decoded = [], 0, 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if groups and (
            rows + group.num_rows > MAX_ROWS or decoded + group.total_byte_size > MAX_DECODED_BYTES
        ):
            break
        if group.total_byte_size > MAX_DECODED_BYTES:
            raise DataError(f"{path.name}: a row group decodes to over {MAX_DECODED_BYTES:,} bytes")
        groups.append(i)
        rows += group.num_rows
        decoded += group.total_byte_size
    table = parquet.read_row_groups(groups) if groups else pa.table({})
    frame = table.slice(0, MAX_ROWS).to_pandas()
    return Table(frame, meta.num_rows > len(frame))


def describe(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns and their types."""
    return {
        "rows": len(frame),
        "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
    }


def numeric_summary(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, float]]:
    """Count, mean, min, max and sum of numeric ``columns``."""
    out: dict[str, dict[str, float]] = {}
    for column in columns:
        series = pd.to_numeric(frame[column], errors="coerce").dropna()
        if len(series):
            out[column] = {
                "count": float(len(series)),
                "mean": round(float(series.mean()), 4),
                "min": float(series.min()),
                "max": float(series.max()),
                "sum": round(float(series.sum()), 4),
            }
    return out


def top_values(frame: pd.DataFrame, column: str, n: int = 5) -> list[tuple[str, int]]:
    """The ``n`` most frequent values of ``column``."""
    counts = frame[column].astype(str).value_counts().head(n)
    return [(str(k), int(v)) for k, v in counts.items()]


def _row_text(frame: pd.DataFrame, position: int) -> str:
    row = frame.iloc[position]
    cells = ", ".join(f"{c}={str(v)[:80]}" for c, v in list(row.items())[: SEARCHED_COLUMNS * 2])
    return f"row {position + 1}: {cells}"


def matching_rows(frame: pd.DataFrame, query_words: set[str]) -> list[str]:
    """Rows that answer a lookup: every row of a small table, else rows naming a query word.

    "What pressure does P7 run at?" is answered by the row ``pump=P7,
    bar=42``, not by the column's mean; statistics alone never show it.
    Only text columns are searched (the first ``SEARCHED_COLUMNS``), by the
    query's words with an optional plural ending, so a 200,000-row table
    costs a few vectorised string matches.
    """
    if len(frame) <= SMALL_TABLE_ROWS:
        return [_row_text(frame, i) for i in range(len(frame))]
    if not query_words:
        return []
    alternatives = "|".join(sorted(re.escape(w) for w in query_words))
    pattern = rf"(?<![a-z0-9])(?:{alternatives})(?:e?s)?(?![a-z0-9])"
    texts = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    hit = np.zeros(len(frame), dtype=bool)
    for column in texts[:SEARCHED_COLUMNS]:
        cells = frame[column].astype(str).str.lower()
        hit |= cells.str.contains(pattern, regex=True, na=False).to_numpy(dtype=bool)
    return [_row_text(frame, int(i)) for i in np.flatnonzero(hit)[:ROWS_QUOTED]]


def analyse(frame: pd.DataFrame, query_words: set[str]) -> list[str]:
    """Rows that answer the query, then statistics for the columns it names.

    Without a named column, every numeric column (the first ten) is summarised.
    """
    named = [c for c in frame.columns if words(str(c).replace("_", " ")) & query_words]
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    chosen = [c for c in named if c in numeric] or numeric[:10]
    facts = matching_rows(frame, query_words)
    for column, stats in numeric_summary(frame, chosen).items():
        facts.append(
            f"column {column}: mean {stats['mean']:g}, min {stats['min']:g}, "
            f"max {stats['max']:g}, sum {stats['sum']:g} over {int(stats['count']):,} values"
        )
    for column in [c for c in named if c not in numeric][:3]:
        common = ", ".join(f"{v} ({k})" for v, k in top_values(frame, column))
        facts.append(f"column {column}: most frequent values {common}")
    return facts
