"""banks."""
