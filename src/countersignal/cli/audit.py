"""``countersignal audit verify|list``: check the hash chain, read the log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from countersignal.cli.common import OutputFormat, emit_rows, err, out, runtime
from countersignal.errors import InvalidInput

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _parse_anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise InvalidInput("an anchor looks like SEQ:HASH, as printed by an earlier verify")
    return int(seq), digest.lower()


@audit_app.command("verify")
def verify_command(
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed by an earlier verify, kept outside the database"),
    ] = None,
) -> None:
    """Recompute the whole chain; exit 0 when intact, 8 with the first bad event otherwise.

    Keep the printed anchor somewhere the database's owners cannot edit (a ticket, a signed
    note, a partner's inbox) and pass it next time: a rewritten log then fails too."""
    from countersignal.audit import verify

    with runtime().sessions() as session:
        result = verify(session, anchor=_parse_anchor(anchor))
    if not result.ok:
        err.print(
            f"[red]audit log NOT intact[/] after {result.events_checked} good events: "
            f"{result.problem}"
        )
        raise typer.Exit(8)
    out.print(f"audit log intact: {result.events_checked} events")
    out.print(f"anchor: {result.events_checked}:{result.last_hash}", soft_wrap=True)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"give a timezone, e.g. {value}Z or {value}+00:00")
    return parsed


@audit_app.command("list")
def list_command(
    org: Annotated[str | None, typer.Option("--org", "-o", help="organisation id")] = None,
    action: Annotated[
        str | None, typer.Option(help="action, or a namespace ending in '.', e.g. 'token.'")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="actor id (user, token or system)")] = None,
    target_type: Annotated[str | None, typer.Option()] = None,
    target_id: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time, exclusive")] = None,
    before_seq: Annotated[int | None, typer.Option(help="page: events before this seq")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """List audit events, newest first."""
    from countersignal.audit import list_events

    with runtime().sessions() as session:
        events = list_events(
            session,
            organisation_id=org,
            action=action,
            actor_id=actor,
            target_type=target_type,
            target_id=target_id,
            since=_parse_time(since),
            until=_parse_time(until),
            before_seq=before_seq,
            limit=limit,
        )
        rows = [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "organisation_id": e.organisation_id,
                "actor": f"{e.actor_kind}:{e.actor_id}",
                "actor_token_id": e.actor_token_id,
                "action": e.action,
                "target": f"{e.target_type}:{e.target_id}" if e.target_type else None,
                "reason": e.reason,
                "details": e.details,
                "hash": e.hash,
            }
            for e in events
        ]
    emit_rows(
        rows,
        ("seq", "at", "organisation_id", "actor", "action", "target", "reason", "details"),
        fmt,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
