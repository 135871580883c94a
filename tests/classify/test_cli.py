"""The designations, detect-entities, model and ocr commands, end to end on SQLite."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from countersignal.cli.main import app
from countersignal.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COUNTERSIGNAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("COUNTERSIGNAL_ORGANISATION", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def invoke(*args: str, stdin: str | None = None):
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def said(*args: str) -> str:
    """A command's human output with Rich's line wrapping undone."""
    return " ".join(invoke(*args).stdout.split())


@pytest.mark.slow
def test_designations_detect_and_models(cli_home, make_un_xml, make_topic_jsonl):
    v1, v2 = cli_home / "v1.xml", cli_home / "v2.xml"
    v1.write_bytes(make_un_xml(entities=[
        {"ref": "QDe.900", "name": "ZORBLAX LIBERATION FRONT"},
        {"ref": "QDe.901", "name": "QUIMBLY RESISTANCE ARMY"}]))
    v2.write_bytes(make_un_xml(entities=[
        {"ref": "QDe.900", "name": "ZORBLAX LIBERATION FRONT", "aliases": [("Zorblax Front",
                                                                           "a.k.a.")]}]))
    assert "version 1, 2 designations; added 2" in said("designations", "load", str(v1))
    assert "unchanged" in said("designations", "load", str(v1))
    assert "added 0, changed 1, de-listed 1" in said("designations", "load", str(v2))
    changes = [json.loads(line) for line in
               invoke("designations", "diff", "-f", "json").stdout.splitlines()]
    assert {(c["change"], c["reference"]) for c in changes} == {("changed", "QDe.900"),
                                                                ("de-listed", "QDe.901")}
    found = invoke("designations", "search", "zorblax front", "-f", "json").stdout
    assert json.loads(found)["reference"] == "QDe.900"
    assert invoke("designations", "search", "quimbly", "-f", "json").stdout == ""

    mentions = invoke("detect-entities", "-", "-f", "json",
                      stdin="We read about the Zorblax Front and the Quimbly Resistance Army.")
    (mention,) = [json.loads(line) for line in mentions.stdout.splitlines()]
    assert (mention["text"], mention["reference"]) == ("Zorblax Front", "QDe.900")
    assert invoke("designations", "enable", "UN Security Council Consolidated List")
    assert invoke("detect-entities", "-", "--organisation", "-f", "json",
                  stdin="Zorblax Liberation Front").stdout.count("QDe.900") == 1

    data = make_topic_jsonl(cli_home / "train.jsonl", 160, seed=1)
    trained = said("model", "train", str(data), "--name", "sports", "--positive", "sports")
    assert "sports v1: threshold" in trained
    listed = json.loads(invoke("model", "list", "-f", "json").stdout)
    assert (listed["name"], listed["version"], listed["positive"]) == ("sports", 1, "sports")
    report = cli_home / "report"
    held_out = make_topic_jsonl(cli_home / "test.jsonl", 80, seed=2)
    evaluated = said("model", "evaluate", str(held_out), "--name", "sports", "--out",
                     str(report))
    assert "precision" in evaluated and (report / "pr_curve.png").is_file()
    assert "OCR on" in said("ocr", "enable", "--languages", "eng")
