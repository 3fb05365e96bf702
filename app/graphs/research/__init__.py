"""The research graph: sub-agents search the space in parallel, a synthesizer cites them."""

from app.graphs.research.graph import builder, graph

__all__ = ["builder", "graph"]
