"""``countersignal exchange`` commands call the same service functions (smoke, real DB)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from countersignal.cli.main import app

from .helpers import random_pdq


def test_groups_partners_share_status_and_files(tmp_path, monkeypatch):
    from countersignal.settings import get_settings

    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path))
    monkeypatch.delenv("COUNTERSIGNAL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    try:
        run("bank", "create", "crisis", "--tlp", "GREEN")
        values = [random_pdq() for _ in range(2)]
        source = tmp_path / "in.txt"
        source.write_text("".join(f"pdq {v}\n" for v in values))
        assert "added 2 items" in run(
            "exchange", "import", "threatexchange", str(source), "--bank", "crisis"
        )
        run("exchange", "group", "create", "EU")
        run("exchange", "partner", "add", "fr", "--partner-org", "org_fr", "--trusted")
        run("exchange", "group", "add-member", "EU", "fr", "--write")
        run("exchange", "group", "share", "EU", "crisis", "--confidence", "70")
        run("exchange", "local-only", "other:internal")
        status = run("exchange", "status", "--format", "json")
        assert json.loads(status.splitlines()[0])["name"] == "fr"
        exported = run("exchange", "export", "threatexchange", "--bank", "crisis")
        assert sorted(exported.split()) == sorted(["pdq", "pdq", *values])
        page = json.loads(run("exchange", "export", "hashlist", "--bank", "crisis"))
        assert page["count"] == 2
    finally:
        get_settings.cache_clear()
