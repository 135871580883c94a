"""Write a benchmark's results into a marked section of a doc, leaving the rest untouched."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, name: str, block: str) -> None:
    """Put ``block`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` (appended
    when the markers are not there yet)."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text() if path.exists() else ""
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1] if end in rest else ""
    path.write_text(f"{before}{begin}\n{block}\n{end}{after}")
