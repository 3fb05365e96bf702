"""One adapter per store of a space, each confined to that space's part of the store."""
