"""``countersignal review-article FILE|-`` and ``review-rules``: the responsible-reporting
review from the command line. It advises: findings never change the exit code (0); only an
unreadable input or a bad configuration is an error (exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from countersignal.cli.common import err, out
from countersignal.errors import CountersignalError


def _config(config: Path | None, rules_dir: Path | None, disable: list[str]):
    from countersignal.review import ReviewConfig, load_config

    base = load_config(config) if config else ReviewConfig()
    update: dict = {"disabled_rules": set(base.disabled_rules) | set(disable)}
    if rules_dir is not None:
        update["extra_rules_dir"] = rules_dir
    return base.model_copy(update=update)


def review_article_command(
    source: Annotated[str, typer.Argument(help="draft file, or - for standard input")],
    input_format: Annotated[
        str, typer.Option("--input-format", "-i", help="auto, markdown, text or html")
    ] = "auto",
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="ISO 639-1 code; default: detect")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    config: Annotated[
        Path | None, typer.Option(help="review config (YAML/TOML): extra_rules_dir, disabled_rules")
    ] = None,
    rules_dir: Annotated[Path | None, typer.Option(help="directory of extra rule files")] = None,
    disable: Annotated[list[str], typer.Option(help="rule id to switch off (repeatable)")] = [],  # noqa: B006
) -> None:
    """Review a news draft against the responsible-reporting guidelines (advice only)."""
    from countersignal.review import review_article

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/] cannot read {source}: {getattr(exc, 'strerror', None) or exc}")
        raise typer.Exit(2) from exc
    try:
        report = review_article(
            text,
            fmt=input_format,  # type: ignore[arg-type]
            language=language,
            config=_config(config, rules_dir, disable),
        )
    except CountersignalError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(exc.exit_code) from exc
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    table = Table(title=f"Responsible-reporting review ({report.language}, {report.format})")
    for col in ("where", "severity", "rule", "passage", "suggestion"):
        table.add_column(col, overflow="fold")
    for f in report.findings:
        table.add_row(f"{f.start}-{f.end}", f.severity.value, f.rule_title, f.excerpt, f.suggestion)
    if report.findings:
        out.print(table)
    else:
        out.print("No passages flagged.")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}")
    out.print(f"[dim]{report.disclaimer}[/]")


def review_rules_command(
    config: Annotated[Path | None, typer.Option(help="review config (YAML/TOML)")] = None,
    rules_dir: Annotated[Path | None, typer.Option(help="directory of extra rule files")] = None,
    detectors: Annotated[
        bool, typer.Option("--detectors", help="list the detectors rule files can use instead")
    ] = False,
) -> None:
    """List the rules the review applies (after the configuration), with their languages."""
    from countersignal.review import load_catalogue

    if detectors:
        _print_detectors()
        return

    try:
        catalogue = load_catalogue(_config(config, rules_dir, []))
    except CountersignalError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(exc.exit_code) from exc
    table = Table(title="Responsible-reporting rules")
    for col in ("#", "id", "severity", "title", "languages"):
        table.add_column(col)
    for rule in catalogue.rules.values():
        spec = rule.spec
        langs = ", ".join(sorted(rule.languages())) or "any"
        table.add_row(str(spec.number or ""), spec.id, spec.severity.value, spec.title, langs)
    out.print(table)


def _print_detectors() -> None:
    from countersignal.review.detectors import REGISTRY

    table = Table(title="Detectors for rule files")
    for col in ("name", "lexicons", "parameters", "what it finds"):
        table.add_column(col, overflow="fold")
    for info in sorted(REGISTRY.values(), key=lambda i: i.name):
        params = ", ".join(info.params.model_fields) or "-"
        lexicons = ", ".join(info.lexicons) or "-"
        scope = " (any language)" if info.language_independent else ""
        table.add_row(info.name, lexicons, params, " ".join(info.doc.split()) + scope)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("review-article")(review_article_command)
    app.command("review-rules")(review_rules_command)
