"""Hostile files given to the CLI: a clear one-line error or per-line report and a defined
exit code, never a traceback, in bounded time (each command in its own process)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from fuzz.test_designations import ATTACKS

COUNTERSIGNAL = str(Path(sys.executable).parent / "countersignal")


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli-home")
    env = {**os.environ, "COUNTERSIGNAL_HOME": str(home), "COLUMNS": "200"}
    env.pop("COUNTERSIGNAL_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([COUNTERSIGNAL, *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=home)
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done

    assert run("bank", "create", "hostile").returncode == 0
    return run


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels and carries almost none: a bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    head = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_hash_reports_bombs_and_garbage_per_file(cli, tmp_path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_header(100_000, 100_000))
    (tmp_path / "wide.png").write_bytes(_png_header(2**31 - 1, 1))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    done = cli("hash", str(tmp_path))
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 4
    for line in lines:
        assert line.get("error"), line  # each file: its own error, the run goes on
    assert sum("ContentTooLarge" in line["error"] for line in lines) == 2


def test_bank_import_of_hostile_lines(cli, tmp_path) -> None:
    hostile = tmp_path / "hostile.jsonl"
    good = json.dumps({"signals": [{"type": "md5", "value": "b" * 32}]})
    hostile.write_bytes(b"\n".join([b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe",
                                    b'{"signals": "x"}', good.encode()]))
    done = cli("bank", "import", "hostile", str(hostile), "--format", "jsonl")
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, out  # bad input, reported; the good line still imported
    assert "imported 1 items" in out and "3 bad lines" in out
    assert "line 1: invalid JSON" in out and "line 2: line is not valid UTF-8" in out


@pytest.mark.parametrize("attack", ["billion laughs", "external entity (XXE)"])
def test_designation_list_attacks(cli, tmp_path, attack) -> None:
    path = tmp_path / "list.xml"
    path.write_bytes(ATTACKS[attack])
    done = cli("designations", "load", str(path))
    assert done.returncode != 0
    assert "unsafe XML" in done.stdout + done.stderr


def _tar(path: Path, members: list[tuple[str, bytes, bytes]]) -> None:
    """``members``: (name, content, type flag); SYMTYPE members link to their content."""
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = content.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


@pytest.mark.parametrize("member", ["../../../../../../tmp/{tag}", "/tmp/{tag}", "link",
                                    "not-a-tar"])
def test_restore_refuses_archives_that_write_outside(cli, tmp_path, member) -> None:
    """Zip-slip in a backup archive: names with ../, absolute names, links out of the folder,
    and a file that is no archive at all: a clear error, nothing written anywhere."""
    import secrets
    import tarfile

    tag = f"cs-restore-{secrets.token_hex(6)}"
    archive = tmp_path / "backup.tar"
    if member == "link":
        _tar(archive, [("escape", b"/tmp", tarfile.SYMTYPE),
                       (f"escape/{tag}", b"x", tarfile.REGTYPE)])
    elif member == "not-a-tar":
        archive.write_bytes(b"\x1f\x8b" + b"\x00" * 100)
    else:
        _tar(archive, [(member.format(tag=tag), b"pwned", tarfile.REGTYPE),
                       ("manifest.json", b"{}", tarfile.REGTYPE)])
    done = cli("restore", str(archive))
    assert done.returncode == 2 and done.stderr.startswith("error:"), done.stderr
    if member != "/tmp/{tag}":  # an absolute name is made relative by the filter, then the
        assert "not a usable backup archive" in done.stderr  # manifest check refuses it
    assert not list(Path("/tmp").glob(f"*{tag}*"))
