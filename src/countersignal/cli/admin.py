"""``countersignal org|user|token ...``: tenants, people and API tokens, as the local operator.

The CLI acts as the system principal (whoever can run it can read the database anyway); every
change is audited with actor ``system:cli``. Token secrets are printed once and never again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from countersignal.cli.common import OutputFormat, emit_rows, err, out, runtime

org_app = typer.Typer(help="Organisations (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="Users of an organisation.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)

OrgOpt = Annotated[str, typer.Option("--org", "-o", help="organisation id or name")]
RoleOpt = Annotated[
    list[str], typer.Option("--role", "-r", help="role (repeat): admin, curator, reviewer, ...")
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f")]


def _operator():
    from countersignal.auth import Principal

    return Principal.system("cli")


@org_app.command("create")
def org_create(
    name: str,
    kind: Annotated[str, typer.Option(help="platform, newsroom, partner or authority")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code, e.g. DE")],
) -> None:
    """Create an organisation."""
    from countersignal.auth import create_organisation

    with runtime().sessions.begin() as session:
        org = create_organisation(session, by=_operator(), name=name, kind=kind, country=country)
        out.print(f"created organisation [bold]{org.name}[/] ({org.id})")


@org_app.command("list")
def org_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """List organisations."""
    from countersignal.auth import list_organisations

    with runtime().sessions() as session:
        rows = [
            {
                "id": o.id,
                "name": o.name,
                "kind": o.kind,
                "country": o.country,
                "created_at": o.created_at.isoformat(),
            }
            for o in list_organisations(session, by=_operator())
        ]
    emit_rows(rows, ("id", "name", "kind", "country", "created_at"), fmt)


@user_app.command("create")
def user_create(
    email: str,
    org: OrgOpt,
    role: RoleOpt,
    name: Annotated[str, typer.Option(help="display name (default: the email)")] = "",
    password: Annotated[
        bool, typer.Option("--password", help="prompt for a password (else token-only)")
    ] = False,
) -> None:
    """Create a user."""
    from countersignal.auth import create_user, find_organisation

    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    operator = _operator()
    with runtime().sessions.begin() as session:
        organisation = find_organisation(session, org, by=operator)
        user = create_user(
            session,
            by=operator,
            organisation_id=organisation.id,
            email=email,
            display_name=name or email,
            roles=role,
            password=secret,
        )
        out.print(f"created user [bold]{user.email}[/] ({user.id}) in {organisation.name}")


@token_app.command("issue")
def token_issue(
    org: OrgOpt,
    name: Annotated[str, typer.Option(help="what the token is for")],
    role: RoleOpt,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", "-s", help="narrow to this permission (repeat)")
    ] = None,
    user: Annotated[str | None, typer.Option(help="user id (default: a service token)")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, help="days until it expires")] = None,
) -> None:
    """Issue a token; its secret is printed once, on stdout alone, for scripts to capture."""
    from countersignal.auth import find_organisation, issue_token
    from countersignal.db import utcnow

    operator = _operator()
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    with runtime().sessions.begin() as session:
        organisation = find_organisation(session, org, by=operator)
        token, secret = issue_token(
            session,
            by=operator,
            organisation_id=organisation.id,
            name=name,
            roles=role,
            scopes=scope or [],
            user_id=user,
            expires_at=expires_at,
        )
    err.print(
        f"issued token {token.id} (prefix {token.prefix}); store the secret now, "
        "it is not shown again:"
    )
    typer.echo(secret)


@token_app.command("list")
def token_list(
    org: Annotated[str | None, typer.Option("--org", "-o", help="organisation id or name")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="include expired and revoked")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List tokens (never their secrets)."""
    from countersignal.auth import find_organisation, list_tokens
    from countersignal.db import utcnow

    operator = _operator()
    now = utcnow()
    with runtime().sessions() as session:
        org_id = find_organisation(session, org, by=operator).id if org else None
        rows = [
            {
                "id": t.id,
                "prefix": t.prefix,
                "name": t.name,
                "organisation_id": t.organisation_id,
                "user_id": t.user_id,
                "roles": t.roles,
                "scopes": t.scopes,
                "state": t.state(now),
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            }
            for t in list_tokens(
                session, by=operator, organisation_id=org_id, include_inactive=show_all
            )
        ]
    emit_rows(
        rows,
        (
            "id",
            "prefix",
            "name",
            "organisation_id",
            "user_id",
            "roles",
            "scopes",
            "state",
            "expires_at",
            "last_used_at",
        ),
        fmt,
    )


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by id; it stops working at once."""
    from countersignal.auth import revoke_token

    with runtime().sessions.begin() as session:
        token = revoke_token(session, token_id, by=_operator())
        out.print(f"revoked token {token.id} ({token.prefix}, {token.name})")


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
