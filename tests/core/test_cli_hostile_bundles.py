"""Hostile or damaged bundle files given to `showdesk submit`: exit 7 with the reason, never a traceback."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.bundle import AttachmentDraft, build_bundle
from tests.core.test_bundle import sample_bundle
from tests.core.test_cli import showdesk

_ATTACHMENT = "attachments/001.txt"
# Offsets inside the zip records (APPNOTE 4.3.7 and 4.3.12).
_LOCAL_CRC, _LOCAL_COMPRESSED, _LOCAL_SIZE = 14, 18, 22
_CENTRAL_CRC, _CENTRAL_COMPRESSED, _CENTRAL_SIZE = 16, 20, 24


def _bundle_bytes() -> bytes:
    base = sample_bundle()
    log = AttachmentDraft(b"spooler: job 42 failed, retrying\n" * 40, "spool.log", "text/plain")
    return build_bundle(base.report, attachments=[log]).to_bytes()


def _offsets(data: bytes, name: str) -> tuple[int, int]:
    """Where the local header and the central directory record of ``name`` start."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == name.encode():
            return local, position
        position = data.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"{name} has no central directory record")


def _patched(data: bytes, fields: dict[int, int]) -> bytes:
    patched = bytearray(data)
    for offset, value in fields.items():
        struct.pack_into("<L", patched, offset, value)
    return bytes(patched)


def _read_u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<L", data, offset)[0])


def crc_lies_everywhere(data: bytes) -> bytes:
    local, central = _offsets(data, _ATTACHMENT)
    wrong = _read_u32(data, central + _CENTRAL_CRC) ^ 0x5A5A5A5A
    return _patched(data, {local + _LOCAL_CRC: wrong, central + _CENTRAL_CRC: wrong})


def size_smaller_than_the_data(data: bytes) -> bytes:
    local, central = _offsets(data, _ATTACHMENT)
    smaller = _read_u32(data, central + _CENTRAL_SIZE) - 7
    return _patched(data, {local + _LOCAL_SIZE: smaller, central + _CENTRAL_SIZE: smaller})


def size_larger_than_the_data(data: bytes) -> bytes:
    local, central = _offsets(data, _ATTACHMENT)
    larger = _read_u32(data, central + _CENTRAL_SIZE) + 10
    return _patched(data, {local + _LOCAL_SIZE: larger, central + _CENTRAL_SIZE: larger})


def compressed_size_past_the_data(data: bytes) -> bytes:
    local, central = _offsets(data, _ATTACHMENT)
    larger = _read_u32(data, central + _CENTRAL_COMPRESSED) + 100_000
    return _patched(data, {local + _LOCAL_COMPRESSED: larger, central + _CENTRAL_COMPRESSED: larger})


def local_header_disagrees_with_the_directory(data: bytes) -> bytes:
    # The central directory tells the truth; the local header another reader trusts does not.
    local, _central = _offsets(data, _ATTACHMENT)
    return _patched(data, {local + _LOCAL_SIZE: _read_u32(data, local + _LOCAL_SIZE) * 50})


def truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


def deeply_nested_manifest(_data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", '{"a":' * 50_000 + "1" + "}" * 50_000)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (crc_lies_everywhere, "CRC"),
        (size_smaller_than_the_data, "damaged zip"),
        (size_larger_than_the_data, "not the size its zip header declares"),
        (compressed_size_past_the_data, "runs past the end"),
        (local_header_disagrees_with_the_directory, "disagree on its size"),
        (truncated, "not a zip file"),
        (deeply_nested_manifest, "nests 50000 levels deep; the bound is 32"),
    ],
)
def test_a_damaged_or_hostile_zip_exits_7_with_the_reason(
    tmp_path: Path, damage: Callable[[bytes], bytes], reason: str
) -> None:
    good = _bundle_bytes()
    (tmp_path / "good.showdesk").write_bytes(good)
    (tmp_path / "bad.showdesk").write_bytes(damage(good))

    result = showdesk("submit", str(tmp_path / "bad.showdesk"))

    assert result.returncode == 7, result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    # The same bytes undamaged are a good bundle: the damage is what was refused.
    assert showdesk("submit", str(tmp_path / "good.showdesk"), "--wait", "0").returncode != 7


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.showdesk"
    os.mkfifo(path)
    return path


def _zero_link(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.showdesk"
    path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (_zero_link, "is a device, not a bundle file"),
        (lambda _tmp: Path("/dev/zero"), "is a device, not a bundle file"),
        (_fifo, "is a FIFO, not a bundle file"),
        (lambda tmp: tmp, "is a directory, not a bundle file"),
        (lambda tmp: tmp / "missing.showdesk", "No such file or directory"),
    ],
    ids=["symlink-to-dev-zero", "dev-zero", "fifo", "directory", "missing"],
)
def test_a_path_that_is_not_a_bundle_file_exits_7_at_once(
    tmp_path: Path, make_path: Callable[[Path], Path], reason: str
) -> None:
    path = make_path(tmp_path)

    # The subprocess's own timeout bounds the test: reading /dev/zero or waiting on the FIFO would hang.
    result = showdesk("submit", str(path))

    assert result.returncode == 7, result.stderr
    assert f"{path} {reason}" in result.stderr or reason in result.stderr
    assert "Traceback" not in result.stderr
