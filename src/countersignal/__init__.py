"""Countersignal: find, review, act on and share signals of terrorist and violent-extremist
content (TVEC) online, together, with due process."""

__version__ = "0.1.0"
