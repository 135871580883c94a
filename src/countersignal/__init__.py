"""Countersignal: find, review, act on and share signals of terrorist and violent-extremist content."""

__version__ = "0.1.0"
