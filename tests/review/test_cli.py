"""The review-article and review-rules commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from countersignal.cli.main import app

runner = CliRunner()


def test_review_article_table_json_stdin_and_exit_codes(tmp_path: Path) -> None:
    draft = tmp_path / "draft.md"
    draft.write_text("# Update\n\nSnipers are positioned on the roof as the siege continues.\n")
    table = runner.invoke(app, ["review-article", str(draft)])
    assert table.exit_code == 0, table.output
    assert "ongoing" in table.output and "not a ruling" in table.output

    as_json = runner.invoke(app, ["review-article", str(draft), "--json"])
    assert as_json.exit_code == 0
    report = json.loads(as_json.stdout)
    assert [f["rule_id"] for f in report["findings"]] == ["ongoing_operation"]

    disabled = runner.invoke(
        app, ["review-article", str(draft), "--json", "--disable", "ongoing_operation"]
    )
    assert json.loads(disabled.stdout)["findings"] == []

    piped = runner.invoke(app, ["review-article", "-", "--json"], input="It was carnage.")
    assert piped.exit_code == 0
    assert json.loads(piped.stdout)["findings"][0]["rule_id"] == "sensationalism"


def test_missing_file_and_bad_config_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["review-article", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2
    bad = runner.invoke(app, ["review-article", "-", "--disable", "no_such_rule"], input="x")
    assert bad.exit_code == 2


def test_review_rules_lists_the_catalogue() -> None:
    result = runner.invoke(app, ["review-rules"])
    assert result.exit_code == 0
    assert "ongoing_operation" in result.output and "hoax_threat_details" in result.output
    listed = runner.invoke(app, ["review-rules", "--detectors"])
    assert listed.exit_code == 0
    assert "target_list" in listed.output and "min_words" in listed.output
