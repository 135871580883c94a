"""CSV and JSON Lines import/export: round trips, and bad lines reported without losing the rest."""

from __future__ import annotations

import hashlib
import io
import json

from countersignal.banks import io as bank_io
from countersignal.banks import service

ORG = "org_a"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _bank(session_factory, name="b"):
    with session_factory.begin() as s:
        return service.create_bank(s, organisation_id=ORG, name=name)


def test_jsonl_import_reports_bad_lines_and_keeps_good_ones(session_factory):
    bank = _bank(session_factory)
    lines = [
        json.dumps(
            {
                "external_id": "a",
                "signals": [{"type": "md5", "value": md5("a")}],
                "labels": [{"kind": "tier", "value": "crisis"}],
            }
        ),
        "{not json",
        json.dumps({"signals": [{"type": "pdq", "value": "00"}]}),
        json.dumps([1, 2]),
        "",
        json.dumps({"signals": [{"type": "sha256", "value": hashlib.sha256(b"b").hexdigest()}]}),
        "\xff".encode("latin-1").decode("latin-1"),
        json.dumps({"signals": [{"type": "md5", "value": md5("c")}], "external_id": 5}),
    ]
    data = "\n".join(lines).encode("utf-8") + b"\n\xff\xfe\n"
    with session_factory() as s:
        report = bank_io.import_items(
            s, service.get_bank(s, ORG, bank.id), io.BytesIO(data), "jsonl"
        )
    assert report.items_added == 2
    assert [n for n, _ in report.errors] == [2, 3, 4, 7, 8, 9]
    assert "not valid UTF-8" in report.errors[-1][1]


def test_csv_groups_rows_by_external_id_and_round_trips(session_factory):
    bank = _bank(session_factory)
    csv_text = (
        "signal_type,signal_value,external_id,labels,source,tlp\n"
        f"md5,{md5('x')},x1,tier:crisis;behaviour:glorification,partner,GREEN\n"
        f"sha256,{hashlib.sha256(b'x').hexdigest()},x1,,,\n"
        f"md5,{md5('y')},,,,\n"
        "md5,,,,,\n"
    )
    with session_factory() as s:
        b = service.get_bank(s, ORG, bank.id)
        report = bank_io.import_items(s, b, io.BytesIO(csv_text.encode()), "csv")
        assert (report.items_added, report.signals_added) == (2, 3)
        assert [n for n, _ in report.errors] == [5]
        out = io.StringIO()
        assert bank_io.export_items(s, b, out, "jsonl") == 2
    items = [json.loads(line) for line in out.getvalue().splitlines()]
    x1 = next(i for i in items if i["external_id"] == "x1")
    assert {sig["type"] for sig in x1["signals"]} == {"md5", "sha256"}
    assert {(lb["kind"], lb["value"]) for lb in x1["labels"]} == {
        ("tier", "crisis"),
        ("behaviour", "glorification"),
    }
    assert x1["tlp"] == "GREEN" and x1["source"] == "partner"

    # Exported CSV imports into a second bank with the same content.
    other = _bank(session_factory, "copy")
    with session_factory() as s:
        buf = io.StringIO()
        bank_io.export_items(s, service.get_bank(s, ORG, bank.id), buf, "csv")
        again = bank_io.import_items(
            s, service.get_bank(s, ORG, other.id), io.BytesIO(buf.getvalue().encode()), "csv"
        )
        assert (again.items_added, again.signals_added, again.errors) == (2, 3, [])


def test_csv_without_required_columns(session_factory):
    bank = _bank(session_factory)
    with session_factory() as s:
        report = bank_io.import_items(
            s, service.get_bank(s, ORG, bank.id), io.BytesIO(b"a,b\n1,2\n"), "csv"
        )
    assert report.items_added == 0 and "signal_type" in report.errors[0][1]


def test_jsonl_labels_may_be_written_as_on_the_command_line(session_factory):
    """``"kind:value[@ref]"`` strings, as in CSV and ``-l``, next to the object form."""
    bank = _bank(session_factory)
    lines = [
        json.dumps({"signals": [{"type": "md5", "value": md5("s")}],
                    "labels": ["designated_entity:ISIL@UN:QDe.115",
                               {"kind": "tier", "value": "crisis"}]}),
        json.dumps({"signals": [{"type": "md5", "value": md5("t")}], "labels": ["no-colon"]}),
    ]
    with session_factory() as s:
        b = service.get_bank(s, ORG, bank.id)
        report = bank_io.import_items(s, b, io.BytesIO("\n".join(lines).encode()), "jsonl")
        assert report.items_added == 1
        assert [n for n, _ in report.errors] == [2] and "kind:value" in report.errors[0][1]
        out = io.StringIO()
        bank_io.export_items(s, b, out, "jsonl")
    labels = json.loads(out.getvalue().splitlines()[0])["labels"]
    assert {(lb["kind"], lb["value"], lb.get("reference")) for lb in labels} == {
        ("designated_entity", "ISIL", "UN:QDe.115"), ("tier", "crisis", None)}
