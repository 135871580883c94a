"""The embedded default's first run: one demo organisation, its admin and a token to start with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.auth.accounts import create_organisation, create_user
from countersignal.auth.models import Organisation
from countersignal.auth.permissions import ROLES
from countersignal.auth.principal import Principal
from countersignal.auth.tokens import issue_token

DEMO_ORGANISATION = "Demo organisation"
DEMO_EMAIL = "admin@demo.invalid"


def ensure_demo(session: Session) -> str | None:
    """Create the demo organisation, an admin user holding every role (one person does every
    job in a demo) and a token for them; return the token secret, or ``None`` when the demo
    organisation already exists (the secret was shown when it was made)."""
    if session.scalar(select(Organisation.id).where(Organisation.name == DEMO_ORGANISATION)):
        return None
    operator = Principal.system("demo")
    org = create_organisation(
        session, by=operator, name=DEMO_ORGANISATION, kind="platform", country="ZZ"
    )
    user = create_user(
        session,
        by=operator,
        organisation_id=org.id,
        email=DEMO_EMAIL,
        display_name="Demo admin",
        roles=list(ROLES),
    )
    _, secret = issue_token(
        session,
        by=operator,
        organisation_id=org.id,
        name="demo",
        roles=list(ROLES),
        user_id=user.id,
    )
    return secret
