"""Facts every layer needs, each computed by one function: domains, e-mail keys, paths of published files."""
