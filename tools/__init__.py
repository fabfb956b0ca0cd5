"""Project tooling: `python -m tools.docs` writes the facts the docs repeat from their sources."""
