"""Text of a document file, and its chunks for the space's memory.

Markdown and plain text are read as UTF-8 (a file that is not is refused as
binary); PDFs through pypdf. The bytes come from ``app.files.read_user_file``,
which reads at most ``MAX_FILE_BYTES`` through one handle, so the text is
extracted from exactly what was checked.
"""

from __future__ import annotations

import io
from pathlib import Path

MAX_FILE_BYTES = 20_000_000
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".rst")
PDF_SUFFIXES = (".pdf",)
MAX_PDF_PAGES = 2_000
CHUNK_CHARS = 1_500
MAX_CHUNKS = 200


class ExtractionError(Exception):
    """The file's text could not be extracted; the message says why."""


def object_type(path: Path) -> str:
    """``text_file`` or ``pdf_file``, from the suffix (others are refused by the caller)."""
    return "pdf_file" if path.suffix.lower() in PDF_SUFFIXES else "text_file"


def extract_text(path: Path, data: bytes) -> str:
    """The text of ``data``, the bytes read from ``path``, or ``ExtractionError``."""
    if path.suffix.lower() in PDF_SUFFIXES:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        try:
            reader = PdfReader(io.BytesIO(data))
            pages = reader.pages[:MAX_PDF_PAGES]
            text = "\n\n".join((page.extract_text() or "").strip() for page in pages)
        except (PyPdfError, ValueError, KeyError, OSError) as exc:
            raise ExtractionError(f"{path.name} is not a readable PDF: {exc}") from None
        except Exception as exc:
            # pypdf raises AttributeError, TypeError and more on damaged files
            # (found by mutating PDFs); a damaged PDF is a bad file, not a bug.
            raise ExtractionError(f"{path.name} is a damaged PDF ({type(exc).__name__})") from None
    else:
        if b"\x00" in data:  # anywhere: Postgres text cannot hold it either
            raise ExtractionError(f"{path.name} is a binary file, not text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ExtractionError(f"{path.name} is not UTF-8 text") from None
    if not text.strip():
        raise ExtractionError(f"{path.name} has no text")
    return text


def chunks(text: str) -> list[str]:
    """Paragraph-aligned pieces of about ``CHUNK_CHARS`` characters (at most ``MAX_CHUNKS``)."""
    pieces: list[str] = []
    current = ""
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        while len(paragraph) > CHUNK_CHARS:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(paragraph[:CHUNK_CHARS])
            paragraph = paragraph[CHUNK_CHARS:]
        if len(current) + len(paragraph) + 2 > CHUNK_CHARS and current:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        pieces.append(current)
    return pieces[:MAX_CHUNKS]
