"""Helpers shared by the exchange tests."""

from __future__ import annotations

import hashlib
import secrets

from countersignal.banks import service
from countersignal.banks.service import ItemInput, LabelInput, SignalInput

ORG = "org_home"
PARTNER_ORG = "org_abroad"
THIRD_ORG = "org_third"


def random_pdq() -> str:
    return secrets.token_hex(32)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add(session, bank, *, pdq=None, sha=None, labels=(), tlp=None, **fields):
    signals = []
    if pdq:
        signals.append(SignalInput("pdq", pdq))
    if sha:
        signals.append(SignalInput("sha256", sha))
    return service.add_item(
        session,
        bank,
        ItemInput(
            signals=signals or [SignalInput("pdq", random_pdq())],
            labels=[LabelInput.parse(x) for x in labels],
            tlp=tlp,
            **fields,
        ),
    )
