"""Detectors, one small module per family; importing this package fills ``REGISTRY``."""

from . import (  # noqa: F401  (imported for their registrations)
    care,
    fear,
    figures,
    footage,
    generic,
    identity,
    instruction,
    labels,
    operations,
    people,
    platform,
    threats,
)
from .base import REGISTRY, Context, DetectorInfo, Hit, detector

__all__ = ["REGISTRY", "Context", "DetectorInfo", "Hit", "detector"]
