"""The research graph: sub-agents search the space in parallel, a synthesizer cites them."""

from app.graphs.research.graph import build_research

__all__ = ["build_research"]
