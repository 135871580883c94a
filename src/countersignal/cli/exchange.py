"""``countersignal exchange ...``: partners, sharing groups, pull/push, the worker, files."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from countersignal.cli.common import OutputFormat, emit_rows, err, organisation_id, out, runtime
from countersignal.errors import InvalidInput

exchange_app = typer.Typer(
    help="Share signals and opinions with partners (TAXII 2.1 / STIX 2.1).", no_args_is_help=True
)
partner_app = typer.Typer(help="Partner organisations and their TAXII servers.")
group_app = typer.Typer(help="Sharing groups (each is one TAXII collection).")
exchange_app.add_typer(partner_app, name="partner")
exchange_app.add_typer(group_app, name="group")

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f")]


@partner_app.command("add")
def partner_add(
    name: str,
    partner_org: Annotated[str, typer.Option(help="id of the organisation standing for it here")],
    api_root: Annotated[str | None, typer.Option(help="its TAXII API root URL")] = None,
    collection: Annotated[str | None, typer.Option(help="its collection id")] = None,
    token: Annotated[str | None, typer.Option(help="bearer token for its server")] = None,
    username: Annotated[str | None, typer.Option(help="HTTP Basic user")] = None,
    password: Annotated[str | None, typer.Option(help="HTTP Basic password")] = None,
    import_bank: Annotated[str | None, typer.Option(help="bank receiving its indicators")] = None,
    trusted: Annotated[bool, typer.Option(help="its disputes count")] = False,
    share_sightings: Annotated[bool, typer.Option(help="send it match counts")] = False,
    allow_private_network: Annotated[bool, typer.Option(help="allow private targets")] = False,
    push: Annotated[bool, typer.Option(help="push our objects to it")] = False,
    poll_seconds: Annotated[float | None, typer.Option()] = None,
) -> None:
    """Register a partner."""
    from countersignal.banks.service import get_bank
    from countersignal.exchange.policy import create_partner

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        bank_id = get_bank(session, org, import_bank).id if import_bank else None
        partner = create_partner(
            session,
            organisation_id=org,
            partner_organisation_id=partner_org,
            name=name,
            api_root_url=api_root,
            collection_id=collection,
            auth_token=token,
            username=username,
            password=password,
            import_bank_id=bank_id,
            trusted=trusted,
            share_sightings=share_sightings,
            allow_private_network=allow_private_network,
            push_enabled=push,
            poll_seconds=poll_seconds,
        )
        out.print(f"added partner [bold]{partner.name}[/] ({partner.id})")


@partner_app.command("list")
def partner_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """Partners and how syncing with each is going."""
    from countersignal.exchange.sync import partner_status

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        rows = [s.as_dict() for s in partner_status(session, org)]
    columns = (
        "partner_id",
        "name",
        "healthy",
        "checkpoint",
        "last_success_at",
        "consecutive_failures",
        "objects_received",
        "objects_sent",
        "last_error",
    )
    emit_rows(rows, columns, fmt, title="partners")


exchange_app.command("status")(partner_list)


@group_app.command("create")
def group_create(name: str, description: str = "") -> None:
    """Create a sharing group; prints its TAXII collection id."""
    from countersignal.exchange.policy import create_sharing_group

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        group = create_sharing_group(
            session, organisation_id=org, name=name, description=description
        )
        out.print(f"created group [bold]{group.name}[/]; collection {group.collection_id}")


@group_app.command("list")
def group_list(fmt: FormatOpt = OutputFormat.table) -> None:
    from countersignal.exchange.policy import list_sharing_groups

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        rows = [
            {"id": g.id, "name": g.name, "collection_id": g.collection_id}
            for g in list_sharing_groups(session, org)
        ]
    emit_rows(rows, ("id", "name", "collection_id"), fmt)


@group_app.command("add-member")
def group_add_member(
    group: str,
    partner: str,
    read: Annotated[bool, typer.Option(help="may read the collection")] = True,
    write: Annotated[bool, typer.Option(help="may add objects (opinions, sightings)")] = False,
) -> None:
    """Give a partner access to a group's collection."""
    from countersignal.exchange.policy import add_member, get_partner, get_sharing_group

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        add_member(
            session,
            get_sharing_group(session, org, group),
            get_partner(session, org, partner),
            can_read=read,
            can_write=write,
        )
    out.print(f"{partner} is a member of {group} (read={read}, write={write})")


@group_app.command("share")
def group_share(
    group: str,
    bank: str,
    confidence: Annotated[int | None, typer.Option(help="STIX confidence 0-100")] = None,
    valid_days: Annotated[int | None, typer.Option(help="indicators expire after")] = None,
) -> None:
    """Share a bank with a group (TLP:RED, local-only banks and labels still stay home)."""
    from countersignal.banks.service import get_bank
    from countersignal.exchange.policy import get_sharing_group, share_bank

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        share_bank(
            session,
            get_bank(session, org, bank),
            get_sharing_group(session, org, group),
            confidence=confidence,
            valid_days=valid_days,
        )
    out.print(f"bank {bank} is shared with {group}")


@exchange_app.command("local-only")
def local_only(
    label: Annotated[str, typer.Argument(help="kind:value")],
    off: Annotated[bool, typer.Option("--off", help="allow it to leave again")] = False,
) -> None:
    """Mark a label local-only: items carrying it never leave."""
    from countersignal.banks.service import LabelInput
    from countersignal.exchange.policy import set_label_local_only

    parsed = LabelInput.parse(label)
    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        set_label_local_only(session, org, parsed.kind, parsed.value, not off)
    out.print(f"{parsed.kind}:{parsed.value} is {'shareable' if off else 'local-only'}")


def _partners(session, org: str, partner: str | None) -> list[str]:
    from countersignal.exchange.policy import get_partner, list_partners

    if partner:
        return [get_partner(session, org, partner).id]
    return [p.id for p in list_partners(session, org) if p.enabled and p.api_root_url]


def _sync(direction: str, partner: str | None) -> None:
    from countersignal.exchange import sync

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        ids = _partners(session, org, partner)
    failed = False
    for partner_id in ids:
        result = (sync.pull if direction == "pull" else sync.push)(rt.sessions, partner_id)
        report = result.report
        if result.ok:
            out.print(
                f"{partner_id}: {direction} ok, pages {result.pages}, received {report.received}"
                f" (added {report.added}, updated {report.updated}, revoked {report.revoked},"
                f" opinions {report.opinions}, errors {len(report.errors)}), sent {result.sent}"
            )
        else:
            failed = True
            err.print(f"[red]{partner_id}: {direction} failed: {result.error}[/]")
    if failed:
        raise typer.Exit(7)


@exchange_app.command("pull")
def pull(partner: Annotated[str | None, typer.Argument(help="name or id; all if omitted")] = None):
    """Fetch what partners published since the last checkpoint."""
    _sync("pull", partner)


@exchange_app.command("push")
def push(partner: Annotated[str | None, typer.Argument(help="name or id; all if omitted")] = None):
    """Send partners what their sharing groups let them read and they have not had yet."""
    _sync("push", partner)


@exchange_app.command("worker")
def worker(
    once: Annotated[bool, typer.Option(help="one round, then exit")] = False,
    tick: Annotated[float, typer.Option(help="seconds between looks for due partners")] = 1.0,
) -> None:
    """Pull/push every partner on its poll interval, with backoff; runs until stopped."""
    import logging
    import signal

    from countersignal.exchange.sync import run_once, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    rt = runtime()
    if once:
        for result in run_once(rt.sessions):
            out.print(f"{result.partner_id}: {'ok' if result.ok else result.error}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    out.print("exchange worker running")
    run_worker(rt.sessions, stop, tick_seconds=tick)


# CSV and JSON Lines are `countersignal bank import|export` (banks.io).
FILE_FORMATS = ("threatexchange", "hashlist")


@exchange_app.command("import")
def import_file(
    fmt: Annotated[str, typer.Argument(help=" | ".join(FILE_FORMATS))],
    path: Path,
    bank: Annotated[str, typer.Option(help="target bank (name or id)")],
    default_type: Annotated[str | None, typer.Option(help="threatexchange: bare lines")] = None,
    feed: Annotated[str, typer.Option(help="hashlist: feed name for the checkpoint")] = "hashlist",
) -> None:
    """Import a file into a bank; bad lines are reported and skipped."""
    from countersignal.banks.service import get_bank
    from countersignal.exchange import files

    if fmt not in FILE_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FILE_FORMATS)}")
    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session, path.open("rb") as stream:
        target = get_bank(session, org, bank)
        if fmt == "threatexchange":
            report = files.import_threatexchange_file(
                session, target, stream, default_type=default_type, source=path.name
            )
        else:
            report = files.import_hash_list(session, target, stream, feed=feed)
        session.commit()
    out.print(f"added {report.items_added} items ({report.signals_added} signals)")
    for number, message in report.errors[:50]:
        err.print(f"line {number}: {message}")


@exchange_app.command("export")
def export_file(
    fmt: Annotated[str, typer.Argument(help=" | ".join(FILE_FORMATS))],
    bank: Annotated[str, typer.Option(help="bank (name or id)")],
    after: Annotated[str | None, typer.Option(help="hashlist: checkpoint")] = None,
) -> None:
    """Write a bank's shareable items to stdout (the sharing policy applies)."""
    import json

    from countersignal.banks.service import get_bank
    from countersignal.exchange import files

    if fmt not in FILE_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FILE_FORMATS)}")
    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        source = get_bank(session, org, bank)
        if fmt == "threatexchange":
            files.export_threatexchange_file(session, source, sys.stdout)
        else:
            sys.stdout.write(json.dumps(files.export_hash_list(session, source, after=after)))
            sys.stdout.write("\n")


def register(app: typer.Typer) -> None:
    app.add_typer(exchange_app, name="exchange")
