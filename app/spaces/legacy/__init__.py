"""Code for data of older versions: memories still in qdrant-client local folders."""
