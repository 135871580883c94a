"""``countersignal designations ...``, ``detect-entities``, ``model ...`` and ``ocr ...``:
designation lists, entity detection, text models and OCR settings (package ``classify``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from countersignal.cli.common import OutputFormat, emit_rows, organisation_id, out, runtime
from countersignal.errors import InvalidInput

designations_app = typer.Typer(help="Designation lists (UN consolidated list, CSV lists).",
                               no_args_is_help=True)
model_app = typer.Typer(help="Trainable text models and their registry.", no_args_is_help=True)
ocr_app = typer.Typer(help="OCR of images with text (off unless enabled).", no_args_is_help=True)

ListNameOpt = Annotated[str | None, typer.Option("--list-name", help="default: the UN list")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f")]


def _un_or(name: str | None) -> str:
    from countersignal.classify.designations import UN_LIST_NAME

    return name or UN_LIST_NAME


@designations_app.command("load")
def load(
    file: Annotated[Path | None, typer.Argument(help="UN XML or .csv list file")] = None,
    list_name: ListNameOpt = None,
    list_format: Annotated[str | None, typer.Option("--list-format",
                                                    help="un-xml or csv")] = None,
    url: Annotated[bool, typer.Option(
        "--url", help="fetch the configured URL (COUNTERSIGNAL_DESIGNATIONS_FETCH_ENABLED)"
    )] = False,
) -> None:
    """Load a new version of a list and show what changed."""
    from countersignal.classify.designations import fetch_list, load_list_file, load_parsed
    from countersignal.classify.designations.parse import parse_un_xml

    if (file is None) == (not url):
        raise InvalidInput("give a FILE or --url (not both)")
    rt = runtime()
    with rt.sessions.begin() as session:
        if url:
            source = rt.settings.designations_url
            result = load_parsed(session, parse_un_xml(fetch_list(source)),
                                 list_name=_un_or(list_name), list_format="un-xml",
                                 source=source, source_url=source)
        else:
            result = load_list_file(session, file, list_name=list_name, list_format=list_format)
    if result.unchanged:
        out.print(f"{result.list_name}: unchanged (version {result.sequence}, "
                  f"{result.total} designations)")
        return
    out.print(f"{result.list_name}: version {result.sequence}, {result.total} designations; "
              f"added {len(result.added)}, changed {len(result.changed)}, "
              f"de-listed {len(result.delisted)}")


@designations_app.command("diff")
def diff(list_name: ListNameOpt = None,
         version: Annotated[int | None, typer.Option(help="default: newest")] = None,
         fmt: FormatOpt = OutputFormat.table) -> None:
    """What a version added, changed and de-listed."""
    from countersignal.classify.designations import version_diff

    rt = runtime()
    with rt.sessions() as session:
        row = version_diff(session, _un_or(list_name), version)
        rows = [{"change": "added", "reference": ref, "fields": ""} for ref in row.diff["added"]]
        rows += [{"change": "changed", "reference": c["reference"], "fields": c["fields"]}
                 for c in row.diff["changed"]]
        rows += [{"change": "de-listed", "reference": ref, "fields": ""}
                 for ref in row.diff["delisted"]]
        title = (f"{_un_or(list_name)} version {row.sequence} ({row.generated_at or 'no date'}, "
                 f"sha256 {row.sha256[:12]}…, from {row.source})")
    emit_rows(rows, ["change", "reference", "fields"], fmt, title)


@designations_app.command("versions")
def versions(list_name: ListNameOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """Every load of a list."""
    from countersignal.classify.designations import list_versions

    rt = runtime()
    with rt.sessions() as session:
        rows = [{"version": v.sequence, "loaded_at": v.loaded_at, "generated": v.generated_at,
                 "total": v.total, "added": v.added, "changed": v.changed,
                 "delisted": v.delisted, "sha256": v.sha256, "source": v.source}
                for v in list_versions(session, _un_or(list_name))]
    emit_rows(rows, ["version", "loaded_at", "generated", "total", "added", "changed",
                     "delisted", "sha256", "source"], fmt)


@designations_app.command("search")
def search(name: str, include_delisted: bool = False, limit: int = 20,
           fmt: FormatOpt = OutputFormat.table) -> None:
    """Designations whose reference, name or alias contains NAME, or whose name the entity
    detector recognises in NAME (other spellings and scripts)."""
    from countersignal.classify.entities import search_by_name

    rt = runtime()
    with rt.sessions() as session:
        rows = [{"reference": d.reference, "kind": d.kind, "name": d.name,
                 "original": d.original_script_name, "list_type": d.list_type,
                 "listed_on": d.listed_on, "active": d.active,
                 "list": d.designation_list.name,
                 "aliases": [f"{a.name} ({a.quality})" for a in d.aliases
                             if a.quality not in ("primary", "original")]}
                for d in search_by_name(session, name, include_delisted=include_delisted,
                                        limit=limit)]
    emit_rows(rows, ["reference", "kind", "name", "original", "list_type", "listed_on",
                     "active", "list", "aliases"], fmt)


@designations_app.command("enable")
def enable(list_name: str) -> None:
    """Use LIST_NAME for this organisation's entity detection."""
    from countersignal.classify.designations import enable_list

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        enable_list(session, org, list_name)
    out.print(f"{list_name} enabled for {org}")


@designations_app.command("disable")
def disable(list_name: str) -> None:
    """Stop using LIST_NAME for this organisation."""
    from countersignal.classify.designations import disable_list

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        disable_list(session, org, list_name)
    out.print(f"{list_name} disabled for {org}")


def detect_entities(
    file: Annotated[str, typer.Argument(help="text file, or - for standard input")],
    organisation: Annotated[bool, typer.Option(
        "--organisation", help="only the lists this organisation enabled")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Find mentions of designated entities and individuals in a text."""
    from countersignal.classify.entities import detector_for

    limit = runtime().settings.limits.max_text_bytes
    raw = sys.stdin.buffer.read(limit + 1) if file == "-" else Path(file).read_bytes()[
        : limit + 1]
    if len(raw) > limit:
        raise InvalidInput(f"text is larger than {limit} bytes")
    text = raw.decode("utf-8", errors="replace")
    rt = runtime()
    org = organisation_id(rt) if organisation else None
    with rt.sessions() as session:
        mentions = detector_for(session, organisation_id=org).find(text)
    rows = [{"start": m.start, "end": m.end, "text": m.text, "reference": m.designation_ref,
             "designation": m.designation_name, "alias": m.alias, "quality": m.alias_quality,
             "score": m.score, "list": m.list_name, "weak": m.weak, "also": list(m.also_refs)}
            for m in mentions]
    emit_rows(rows, ["start", "end", "text", "reference", "designation", "alias", "quality",
                     "score", "list"], fmt)


@model_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="JSON Lines of {\"text\", \"label\"}")],
    name: Annotated[str, typer.Option(help="model name")],
    positive: Annotated[str, typer.Option(help="the label to detect")],
    target_precision: float = 0.9,
    kind: Annotated[str, typer.Option(help="tfidf-char-lr or embedding-lr")] = "tfidf-char-lr",
    embedding_model: Annotated[str | None, typer.Option(
        help="local sentence-embedding model directory (embedding-lr)")] = None,
) -> None:
    """Train a model, store it and register a new version."""
    from countersignal.classify.textmodels import train_and_register

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        row = train_and_register(session, organisation_id=org, name=name, data_path=data,
                                 positive_label=positive, target_precision=target_precision,
                                 kind=kind, embedding_model_path=embedding_model)
        m = row.metrics
        out.print(f"{row.name} v{row.version}: threshold {row.threshold:.3f}; held-out "
                  f"precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
                  f"AP {m['average_precision']:.3f} (n={m['n']})")
        out.print(f"report: {Path(row.artifact_path).parent / 'report' / 'report.html'}")


@model_app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Argument(help="labelled JSON Lines")],
    name: Annotated[str, typer.Option(help="model name")],
    version: Annotated[int | None, typer.Option(help="default: newest active")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="report folder")] = Path("model-report"),
) -> None:
    """Measure a registered model on labelled data at its threshold; write a report."""
    from countersignal.classify.textmodels import evaluate_model, get_model

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        row = get_model(session, org, name, version)
    m = evaluate_model(row, data, out_dir)
    out.print(f"{row.name} v{row.version} at threshold {row.threshold:.3f}: precision "
              f"{m['precision']:.3f}, recall {m['recall']:.3f}, AP {m['average_precision']:.3f}"
              f" (n={m['n']}); confusion [[tn, fp], [fn, tp]] = {m['confusion_matrix']}")
    out.print(f"report: {m['report']}")


@model_app.command("list")
def list_(fmt: FormatOpt = OutputFormat.table) -> None:
    """This organisation's models and versions."""
    from countersignal.classify.textmodels import list_models

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions() as session:
        rows = [{"name": r.name, "version": r.version, "kind": r.kind,
                 "positive": r.positive_label, "threshold": round(r.threshold, 4),
                 "precision": round(r.metrics["precision"], 4),
                 "recall": round(r.metrics["recall"], 4), "active": r.active,
                 "training_sha256": r.training_sha256[:16], "created_at": r.created_at}
                for r in list_models(session, org)]
    emit_rows(rows, ["name", "version", "kind", "positive", "threshold", "precision", "recall",
                     "active", "training_sha256", "created_at"], fmt)


@ocr_app.command("enable")
def ocr_enable(languages: Annotated[str | None, typer.Option(
        help="Tesseract languages, e.g. eng+ara+rus")] = None) -> None:
    """Turn OCR on for this organisation."""
    _set_ocr(True, languages)


@ocr_app.command("disable")
def ocr_disable() -> None:
    """Turn OCR off for this organisation."""
    _set_ocr(False, None)


def _set_ocr(enabled: bool, languages: str | None) -> None:
    from countersignal.classify.service import set_ocr

    rt = runtime()
    org = organisation_id(rt)
    with rt.sessions.begin() as session:
        row = set_ocr(session, org, enabled=enabled, languages=languages)
        out.print(f"OCR {'on' if row.ocr_enabled else 'off'} for {org} ({row.ocr_languages})")


def register(app: typer.Typer) -> None:
    app.add_typer(designations_app, name="designations")
    app.add_typer(model_app, name="model")
    app.add_typer(ocr_app, name="ocr")
    app.command("detect-entities")(detect_entities)
