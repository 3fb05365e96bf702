"""A space as one portable bundle: export, import, the bundle format, read as hostile."""
