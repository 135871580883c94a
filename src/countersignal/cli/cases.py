"""``countersignal worker``, ``cases``, ``orders``, ``webhooks``, ``vault``, ``statements``,
``report``: the operator's side of cases and actions. Every command calls a service function
as the system principal (the local operator) for the organisation in settings or ``--org``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from countersignal.cli.common import OutputFormat, emit_rows, organisation_id, out, runtime
from countersignal.errors import InvalidInput

cases_app = typer.Typer(help="The review queue.", no_args_is_help=True)
orders_app = typer.Typer(help="TCO removal orders.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints and dead letters.", no_args_is_help=True)
vault_app = typer.Typer(help="The evidence vault.", no_args_is_help=True)
statements_app = typer.Typer(help="DSA statements of reasons.", no_args_is_help=True)

Fmt = Annotated[OutputFormat, typer.Option("--format", "-f")]


def _operator():
    from countersignal.auth import Principal

    return Principal.system("cli")


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date or time") from exc
    if value.tzinfo is None:
        raise InvalidInput(f"{text!r} needs a timezone, e.g. 2026-01-01T00:00:00Z")
    return value


def worker(
    once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
    interval: Annotated[float, typer.Option(help="seconds between passes")] = 2.0,
) -> None:
    """Deliver webhooks, escalate removal orders, release notices, purge expired evidence."""
    from countersignal.cases.worker import worker_for

    job = worker_for(runtime(), interval_s=interval)
    if once:
        report = job.run_once()
        out.print(f"escalations {len(report.escalations)}, notices released "
                  f"{report.notices_released}, purged {report.purged}, delivered "
                  f"{report.deliveries.delivered}, retrying {report.deliveries.retrying}, "
                  f"dead {report.deliveries.dead}")
        return
    out.print(f"worker running every {interval:g} s; Ctrl-C stops it")
    try:
        job.run_forever()
    except KeyboardInterrupt:
        job.stop()


@cases_app.command("queue")
def queue(fmt: Fmt = OutputFormat.table, limit: int = 50) -> None:
    """Open cases, most urgent first."""
    from countersignal.cases.service import list_queue

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        rows = [{"id": c.id, "tier": c.tier, "status": c.status, "content_id": c.content_id,
                 "opened_at": c.opened_at.isoformat(), "sla_due_at": c.sla_due_at.isoformat()}
                for c in list_queue(session, _operator(), limit=limit, organisation_id=org)]
    emit_rows(rows, ["id", "tier", "status", "content_id", "opened_at", "sla_due_at"], fmt,
              title="review queue")


@orders_app.command("list")
def orders_list(fmt: Fmt = OutputFormat.table, open_only: bool = False) -> None:
    """Removal orders, nearest deadline first, with their clock."""
    from countersignal.cases.orders import clock, list_orders

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        rows = []
        for order in list_orders(session, _operator(), open_only=open_only,
                                 organisation_id=org):
            state = clock(order)
            rows.append({"id": order.id, "authority": order.authority,
                         "reference": order.authority_reference, "status": order.status,
                         "deadline": order.deadline.isoformat(),
                         "late": "" if state.late is None else state.late,
                         "overdue": state.overdue})
    emit_rows(rows, ["id", "authority", "reference", "status", "deadline", "late", "overdue"],
              fmt, title="removal orders")


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    event: Annotated[list[str] | None, typer.Option("--event", help="only these events")] = None,
    allow_private: Annotated[bool, typer.Option(
        help="allow a private/loopback destination (operator decision; tests, on-prem)")] = False,
) -> None:
    """Register a webhook endpoint; prints its signing secret once."""
    from countersignal.actions.crypto import Keyring
    from countersignal.actions.webhooks import register_endpoint

    rt = runtime()
    with rt.sessions.begin() as session:
        endpoint, secret = register_endpoint(
            session, _operator(), url=url, events=event or [], allow_private=allow_private,
            keyring=Keyring.from_settings(rt.settings), organisation_id=organisation_id(rt))
        out.print(f"endpoint {endpoint.id}; signing secret (shown once): {secret}")


@webhooks_app.command("dead")
def webhooks_dead(fmt: Fmt = OutputFormat.table) -> None:
    """Deliveries that exhausted their retries."""
    from countersignal.actions.webhooks import list_dead_letters

    rt = runtime()
    with rt.sessions.begin() as session:
        rows = [{"id": m.id, "event": m.event, "idempotency_key": m.idempotency_key,
                 "attempts": m.attempts, "last_error": m.last_error}
                for m in list_dead_letters(session, _operator())]
    emit_rows(rows, ["id", "event", "idempotency_key", "attempts", "last_error"], fmt,
              title="dead letters")


@webhooks_app.command("retry")
def webhooks_retry(message_id: str) -> None:
    """Queue a dead letter again (same idempotency key)."""
    from countersignal.actions.webhooks import retry_dead_letter

    rt = runtime()
    with rt.sessions.begin() as session:
        retry_dead_letter(session, _operator(), message_id)
    out.print(f"{message_id} queued again")


@vault_app.command("purge")
def vault_purge() -> None:
    """Purge evidence past its retention (also done by the worker); every purge is audited."""
    from countersignal.actions.vault import Vault, purge_expired

    rt = runtime()
    with rt.sessions.begin() as session:
        count = purge_expired(session, Vault.from_settings(rt.settings))
    out.print(f"purged {count} entr{'y' if count == 1 else 'ies'}")


@statements_app.command("export")
def statements_export(
    output: Annotated[Path, typer.Option("--out", help="folder for batch-NNNN.json files")],
    since: str | None = None,
    until: str | None = None,
    unexported: bool = False,
    mark_exported: bool = False,
) -> None:
    """Write statements of reasons as Transparency Database request bodies (≤ 100 each)."""
    from countersignal.cases.service import export_statements

    rt = runtime()
    with rt.sessions.begin() as session:
        bodies = export_statements(
            session, _operator(), since=_when(since) if since else None,
            until=_when(until) if until else None, only_unexported=unexported,
            mark_exported=mark_exported)
    output.mkdir(parents=True, exist_ok=True)
    for number, body in enumerate(bodies, 1):
        (output / f"batch-{number:04d}.json").write_text(json.dumps(body, indent=1))
    out.print(f"wrote {len(bodies)} batch file(s) to {output}")


def report(
    start: Annotated[str, typer.Option(help="ISO 8601 with timezone, inclusive")],
    end: Annotated[str, typer.Option(help="ISO 8601 with timezone, exclusive")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, csv or html")] = "json",
    output: Annotated[Path | None, typer.Option("--out")] = None,
) -> None:
    """Transparency report (TCO Art. 7 figures, DSA aggregates) for a period."""
    from countersignal.reports.figures import compute_figures
    from countersignal.reports.render import to_csv, to_html

    if fmt not in ("json", "csv", "html"):
        raise InvalidInput("--format must be json, csv or html")
    rt = runtime()
    with rt.sessions.begin() as session:
        figures = compute_figures(session, _operator(), start=_when(start), end=_when(end),
                                  organisation_id=organisation_id(rt))
    text = {"json": lambda f: json.dumps(f, indent=1), "csv": to_csv, "html": to_html}[fmt](
        figures)
    if output:
        output.write_text(text)
        out.print(f"wrote {output}")
    else:
        typer.echo(text)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("report")(report)
    app.add_typer(cases_app, name="cases")
    app.add_typer(orders_app, name="orders")
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(vault_app, name="vault")
    app.add_typer(statements_app, name="statements")
