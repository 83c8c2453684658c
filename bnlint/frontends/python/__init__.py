"""Python sources: scripts and notebooks, read with `ast` and interpreted abstractly, never run."""
