"""Who may do what in a space: the role rule and its check, members, space settings."""
