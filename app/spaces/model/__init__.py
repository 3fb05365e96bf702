"""The space records: what a space is, with no connection to anything."""
