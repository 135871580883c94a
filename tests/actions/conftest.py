"""The case world's fixtures (tests/cases/world.py): databases at head, fast to reset; a
world of organisations, banks and a vault; a webhook receiver on loopback."""

from cases.world import *  # noqa: F403
