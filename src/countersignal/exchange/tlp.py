"""Traffic Light Protocol 2.0 markings and the rules for what may leave this deployment.

The marking-definition ids are the published OASIS ones (TLP 2.0 extension
``extension-definition--60a3c5c5-...``); stix2 3.0 only ships TLP 1.0 objects, so the TLP 2.0
objects are defined here. TLP 1.0 ids are accepted on import (WHITE reads as CLEAR).

What a recipient may do with each level (FIRST TLP 2.0), and so what this system does:

* CLEAR — no limit: shared, and re-shared when imported.
* GREEN — the community: shared with partners, and re-shared to partners when imported.
* AMBER / AMBER+STRICT — the recipient's organisation (AMBER: and its clients): shared with the
  partners chosen, never re-shared by a recipient.
* RED — named individuals only: never leaves, imported or not.
"""

from __future__ import annotations

from countersignal.errors import InvalidInput

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"

MARKING_IDS: dict[str, str] = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# TLP 1.0 (stix2.TLP_WHITE ... TLP_RED), read on import only.
TLP1_MARKING_IDS: dict[str, str] = {
    "CLEAR": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "GREEN": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "AMBER": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "RED": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
LEVEL_BY_MARKING = {v: k for k, v in TLP1_MARKING_IDS.items()} | {
    v: k for k, v in MARKING_IDS.items()
}
ORDER = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
# Levels an importer may pass on to its own partners (never AMBER, AMBER+STRICT or RED).
RESHAREABLE = frozenset({"CLEAR", "GREEN"})


def normalise(level: str) -> str:
    """``tlp:amber`` / ``WHITE`` / ``amber+strict`` → the canonical upper-case TLP 2.0 name."""
    norm = level.strip().upper().removeprefix("TLP:").replace("WHITE", "CLEAR")
    if norm not in ORDER:
        raise InvalidInput(f"TLP {level!r} is not one of {', '.join(ORDER)}")
    return norm


def marking_definition(level: str) -> dict:
    """The official STIX 2.1 marking-definition object for a TLP 2.0 level."""
    level = normalise(level)
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": MARKING_IDS[level],
        "created": TLP2_CREATED,
        "name": f"TLP:{level}",
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level.lower()}
        },
    }


def level_of(marking_refs: list[str] | None) -> str | None:
    """The strictest TLP level among ``object_marking_refs`` (None when unmarked)."""
    levels = [LEVEL_BY_MARKING[ref] for ref in marking_refs or () if ref in LEVEL_BY_MARKING]
    return max(levels, key=ORDER.index) if levels else None


def stricter(a: str, b: str) -> str:
    return max(normalise(a), normalise(b), key=ORDER.index)
