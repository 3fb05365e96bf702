"""Connections to the shared servers, schema migrations, embedders and the graph wire."""
