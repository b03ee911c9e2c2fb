"""The data directory is private: 0700 directories, 0600 files, whatever existed before and whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from server.backup import backup
from server.blobs import BlobStore
from server.store import Store
from tests.fixtures.server import ServerProcess, database_for
from tests.server.helpers import Upload, make_bundle, submit

DATABASE_FILES = ("showdesk.db", "showdesk.db-wal", "showdesk.db-shm")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    """Run with ``value`` as the umask; a started subprocess keeps it (the server under test)."""
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def database_files(server: ServerProcess) -> tuple[str, ...]:
    """The database's files in the data directory: SQLite's three, none when the database is PostgreSQL."""
    return () if server.database else DATABASE_FILES


def old_world_readable_data_dir(data_dir: Path, database: str = "") -> list[Path]:
    """What an older version (or a hand-made ``--data``) left: 0755 directories, 0644 files.

    The files are a blob and, on SQLite, the database; they are returned, the blob first.
    """
    data_dir.mkdir()
    store = Store(data_dir, database=database)
    store.create_token("old-kiosk", "submitter")
    store.close()
    BlobStore(data_dir)
    blob = data_dir / "blobs" / "ab" / ("ab" + "0" * 62)
    blob.write_bytes(b"an old screenshot")
    loosened = [blob] if database else [blob, data_dir / "showdesk.db"]
    for path in loosened:
        path.chmod(0o644)
    for path in [data_dir, data_dir / "blobs", data_dir / "blobs" / "ab", data_dir / "tmp"]:
        path.chmod(0o755)
    return loosened


def assert_private(data_dir: Path, database_file_names: Sequence[str]) -> None:
    assert mode_of(data_dir) == 0o700
    for name in database_file_names:
        assert (data_dir / name).exists(), f"{name} missing: the check would prove nothing"
        assert mode_of(data_dir / name) == 0o600, f"{name} is {mode_of(data_dir / name):o}"
    # The running server's lock file holds only its pid, but nothing in the directory is left readable.
    assert mode_of(data_dir / "server.lock") == 0o600
    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert blobs, "no blob stored: the check would prove nothing"
    for blob in blobs:
        assert mode_of(blob) == 0o600, f"{blob} is {mode_of(blob):o}"
    for directory in [data_dir / "blobs", data_dir / "tmp", *(data_dir / "blobs").iterdir()]:
        assert mode_of(directory) == 0o700, f"{directory} is {mode_of(directory):o}"


# The data directory's modes are the server's on either engine (PostgreSQL keeps blobs, tmp and the
# lock there too); only the database files are SQLite's.
@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_a_pre_existing_0755_data_dir_becomes_private_when_the_server_starts(
    tmp_path: Path, mask: int, server_engine: str, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "data"
    database = database_for(server_engine, request)
    loosened = old_world_readable_data_dir(data_dir, database)
    assert mode_of(data_dir) == 0o755 and all(mode_of(path) == 0o644 for path in loosened)
    server = ServerProcess(data_dir, database=database)
    with umask(mask):
        server.start()
    try:
        token = server.token("submitter")
        upload = Upload.of(make_bundle(41))
        assert submit(server, token, upload).status_code == 201
        assert_private(data_dir, database_files(server))
        assert [mode_of(path) for path in loosened] == [0o600] * len(loosened)
    finally:
        server.stop()


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_a_new_data_dir_is_private_whatever_the_umask(
    tmp_path: Path, mask: int, server_engine: str, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "fresh"
    server = ServerProcess(data_dir, database=database_for(server_engine, request))
    with umask(mask):
        server.start()
    try:
        token = server.token("submitter")
        assert submit(server, token, Upload.of(make_bundle(42))).status_code == 201
        assert_private(data_dir, database_files(server))
    finally:
        server.stop()


def test_an_old_0644_wal_and_shm_are_tightened_at_open(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    store.create_token("kiosk-1", "submitter")
    # Keep a connection open so the WAL and shared-memory files stay while their modes are loosened.
    holder = sqlite3.connect(data_dir / "showdesk.db")
    holder.execute("SELECT count(*) FROM tokens").fetchone()
    for name in DATABASE_FILES:
        (data_dir / name).chmod(0o644)
    reopened = Store(data_dir)
    try:
        for name in DATABASE_FILES:
            assert mode_of(data_dir / name) == 0o600, name
    finally:
        reopened.close()
        holder.close()
        store.close()


def test_a_backup_is_private_even_in_a_0755_destination(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    store.create_token("kiosk-1", "submitter")
    store.close()
    blobs = BlobStore(data_dir)
    fd, temp = blobs.new_temp()
    with os.fdopen(fd, "wb") as stream:
        stream.write(b"screenshot bytes")
    digest = "5" * 64  # blobs are named by digest; this test only needs a name the store accepts
    blobs.commit([(temp, digest)])
    destination = tmp_path / "backup"
    destination.mkdir(mode=0o755)
    destination.chmod(0o755)
    with umask(0o000):
        backup(data_dir, destination)
    assert mode_of(destination) == 0o700
    assert mode_of(destination / "showdesk.db") == 0o600
    copied = destination / "blobs" / digest[:2] / digest
    assert copied.read_bytes() == b"screenshot bytes" and mode_of(copied) == 0o600
    assert mode_of(copied.parent) == 0o700
