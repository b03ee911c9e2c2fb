"""Retention on both database engines, and its sweep of orphaned files (directory and S3).

The real server process serves on SQLite or on the session's PostgreSQL while retention runs
beside it, through the command line or ``apply_retention``. Orphans are planted in the blob
store by hand, as a crash or a refused upload leaves them; their age is set on the file's
mtime (the directory) or by running retention "later" (``now``, for S3, whose objects' times
cannot be set).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from agent.bundle import ReportBundle
from server import retention
from server.blobs import BlobStore
from server.retention import DEFAULT_ORPHAN_GRACE_SECONDS, apply_retention
from server.thumbnails import thumbnail_path
from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.s3 import REGION, S3Endpoint
from tests.fixtures.server import ServerProcess
from tests.server.helpers import api, make_bundle, png_bytes, sha256, submit

TWO_HOURS = 2 * 3600.0


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server on each engine (a fresh PostgreSQL database), files in its data directory."""
    database = ""
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres_server")
        database = cluster.database_url(cluster.new_database("retention"))
    server = ServerProcess(tmp_path / "server-data", database=database)
    try:
        yield server.start()
    finally:
        server.stop()


def blob_path(server: ServerProcess, digest: str) -> Path:
    return server.blobs_dir / digest[:2] / digest


def plant(server: ServerProcess, data: bytes, *, age: float = 0.0) -> str:
    """Bytes in the blob directory that no row names (as a crash leaves them), stored ``age`` seconds ago."""
    digest = sha256(data)
    path = blob_path(server, digest)
    path.write_bytes(data)
    path.chmod(0o600)
    if age:
        backdate(path, age)
    return digest


def backdate(path: Path, age: float) -> None:
    then = time.time() - age
    os.utime(path, (then, then))


def purged(bundle: ReportBundle) -> set[str]:
    """The digests of the files retention deletes (everything but the system information)."""
    return {ref.sha256 for ref in bundle.report.files() if ref.path != "sysinfo.json"}


def close(server: ServerProcess, technician: str, ticket_id: str) -> None:
    for status in ("resolved", "closed"):
        response = api(server, technician, "POST", f"/tickets/{ticket_id}/status", json={"status": status})
        assert response.status_code == 200, response.text


def picture_served(server: ServerProcess, technician: str, bundle: ReportBundle) -> bool:
    ref = bundle.report.steps[0].image
    response = api(server, technician, "GET", f"/tickets/{bundle.report.id}/files/{ref.path}")
    return response.status_code == 200 and sha256(response.content) == ref.sha256


def run_json(server: ServerProcess, *args: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(server.cli("retention", "--json", *args).stdout)
    return loaded


# ---------------------------------------------------------------- expired tickets, both engines
def test_retention_deletes_expired_files_and_keeps_shared_ones_on_both_engines(desk: ServerProcess) -> None:
    submitter, technician = desk.token("submitter"), desk.token("technician")
    shared = png_bytes(seed=7101)
    old = make_bundle(images=[shared, png_bytes(seed=7102)])
    live = make_bundle(images=[shared])
    for bundle in (old, live):
        assert submit(desk, submitter, bundle).status_code == 201
    close(desk, technician, str(old.report.id))
    expected_gone = purged(old) - {sha256(shared)}

    dry = run_json(desk, "--days", "0", "--dry-run")
    assert [t["id"] for t in dry["tickets"]] == [str(old.report.id)]
    assert {f["sha256"]: f["kept"] for f in dry["tickets"][0]["files"]} == {d: d == sha256(shared) for d in purged(old)}
    assert dry["blobs_deleted"] == 0 and all(blob_path(desk, d).is_file() for d in purged(old))

    done = run_json(desk, "--days", "0")
    assert done["blobs_deleted"] == len(expected_gone)
    for digest in purged(old) | purged(live):
        assert blob_path(desk, digest).is_file() is (digest not in expected_gone), digest
    assert picture_served(desk, technician, live)  # the open ticket still shows the shared picture
    assert api(desk, technician, "GET", f"/tickets/{old.report.id}").status_code == 200  # the ticket stays
    assert run_json(desk, "--days", "0")["tickets"] == []  # nothing left to do

    # Another process's data directory still holds a thumbnail of bytes the first run removed
    # (made before the run, or by a process on another machine): a run with that --data drops it.
    private = next(iter(expected_gone))
    other = ServerProcess(desk.data_dir.parent / "other-process-data", database=desk.database)
    if desk.database:  # the same database from another data directory
        other.cli("token", "list")
    else:  # SQLite lives in the data directory: the leftover sits beside the one database
        other = desk
    leftover = thumbnail_path(other.data_dir, private)
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"a small picture of the removed screenshot")
    live_thumbnail = thumbnail_path(other.data_dir, sha256(shared))
    live_thumbnail.parent.mkdir(parents=True, exist_ok=True)
    live_thumbnail.write_bytes(b"the open ticket's thumbnail")
    assert run_json(other, "--days", "0")["tickets"] == []
    assert not leftover.exists()
    assert live_thumbnail.is_file()


# ---------------------------------------------------------------- orphans, both engines
def test_the_orphan_sweep_removes_old_unnamed_files_only(desk: ServerProcess) -> None:
    submitter, technician = desk.token("submitter"), desk.token("technician")
    named = make_bundle(images=[png_bytes(seed=7201)])
    assert submit(desk, submitter, named).status_code == 201
    for digest in purged(named):
        backdate(blob_path(desk, digest), TWO_HOURS)  # as old as the orphan: only the row keeps it
    old_orphan = plant(desk, b"left by a crash " * 64, age=TWO_HOURS)
    fresh_orphan = plant(desk, b"an upload whose ticket is about to commit " * 16)

    dry = run_json(desk, "--dry-run")
    assert [o["sha256"] for o in dry["orphans"]] == [old_orphan]
    assert dry["orphans_deleted"] == 0 and blob_path(desk, old_orphan).is_file()

    done = run_json(desk, "--orphan-grace", "60")
    assert [o["sha256"] for o in done["orphans"]] == [old_orphan]
    assert done["orphans_deleted"] == 1 and done["orphan_bytes_deleted"] == len(b"left by a crash " * 64)
    assert not blob_path(desk, old_orphan).exists()
    assert blob_path(desk, fresh_orphan).is_file()
    assert all(blob_path(desk, d).is_file() for d in purged(named))
    assert picture_served(desk, technician, named)

    # A longer grace keeps an orphan of two hours.
    older = plant(desk, b"another crash " * 64, age=TWO_HOURS)
    assert run_json(desk, "--orphan-grace", "180")["orphans"] == []
    assert blob_path(desk, older).is_file()


# ---------------------------------------------------------------- rows that commit after the plan
def test_a_row_committed_after_the_plan_keeps_its_bytes(desk: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    submitter, technician = desk.token("submitter"), desk.token("technician")
    revived = png_bytes(seed=7301)
    orphan = plant(desk, revived, age=TWO_HOURS)
    reopened = make_bundle(images=[png_bytes(seed=7302)])
    assert submit(desk, submitter, reopened).status_code == 201
    close(desk, technician, str(reopened.report.id))
    resubmitted = make_bundle(images=[revived])

    def between(original: Callable[..., Any], act: Callable[[], None]) -> Callable[..., Any]:
        def planned(self: Any, *args: Any) -> Any:
            found = original(self, *args)
            act()  # after the plan, before the removal's check
            return found

        return planned

    def reopen() -> None:
        response = api(desk, technician, "POST", f"/tickets/{reopened.report.id}/status", json={"status": "open"})
        assert response.status_code == 200, response.text

    def resubmit() -> None:
        # The same bytes as the orphan: the server keeps the stored object and commits a row naming it.
        assert submit(desk, submitter, resubmitted).status_code == 201

    monkeypatch.setattr(retention._Sweep, "expired", between(retention._Sweep.expired, reopen))
    monkeypatch.setattr(retention._Sweep, "orphans", between(retention._Sweep.orphans, resubmit))
    result = apply_retention(desk.data_dir, 0, now=time.time(), database=desk.database)

    assert result.blobs_deleted == 0 and result.orphans_deleted == 0 and result.orphans == []
    assert all(not t.deleted for t in result.tickets)
    assert blob_path(desk, orphan).is_file()
    assert all(blob_path(desk, d).is_file() for d in purged(reopened))
    assert picture_served(desk, technician, resubmitted) and picture_served(desk, technician, reopened)


def test_an_orphan_whose_bytes_arrive_again_after_the_plan_stays(
    desk: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = png_bytes(seed=7311)
    orphan = plant(desk, data, age=TWO_HOURS)

    def upload_again() -> None:
        # An upload of the same bytes whose row has not committed yet: the blob store's commit
        # (here through its own interface, on the same directory) makes the stored file young.
        blobs = BlobStore(desk.data_dir)
        fd, temp = blobs.new_temp()
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        blobs.commit([(temp, orphan)])

    original = retention._Sweep.orphans

    def planned(self: Any, *args: Any) -> Any:
        found = original(self, *args)
        assert [o.sha256 for o in found] == [orphan]  # it was planned for removal
        upload_again()
        return found

    monkeypatch.setattr(retention._Sweep, "orphans", planned)
    result = apply_retention(desk.data_dir, 0, now=time.time(), database=desk.database)

    assert result.orphans_deleted == 0
    assert blob_path(desk, orphan).read_bytes() == data


# ---------------------------------------------------------------- orphans in an object store
def s3_location(s3_server: S3Endpoint, bucket: str) -> str:
    return f"s3://{bucket}/files?endpoint={s3_server.url}"


def test_the_orphan_sweep_in_an_object_store(
    s3_server: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_server.new_bucket()
    where = s3_location(s3_server, bucket)
    server = ServerProcess(tmp_path / "server-data", extra_args=["--blobs", where], env=s3_server.environment())
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    client = boto3.session.Session().client("s3", endpoint_url=s3_server.url, region_name=REGION)
    try:
        with server.start():
            submitter, technician = server.token("submitter"), server.token("technician")
            named = make_bundle(images=[png_bytes(seed=7401)])
            assert submit(server, submitter, named).status_code == 201
            orphan_bytes = b"an object whose ticket never committed " * 32
            orphan = sha256(orphan_bytes)
            client.put_object(Bucket=bucket, Key=f"files/{orphan[:2]}/{orphan}", Body=orphan_bytes)

            def stored() -> set[str]:
                pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                return {str(item["Key"]).rsplit("/", 1)[-1] for page in pages for item in page.get("Contents", [])}

            # Just stored: younger than the grace, it stays.
            fresh = apply_retention(server.data_dir, 90, now=time.time(), blobs_location=where)
            assert fresh.orphans == [] and orphan in stored()
            # Two hours later it goes; the named objects never do.
            later = apply_retention(server.data_dir, 90, now=time.time() + TWO_HOURS, blobs_location=where)
            assert [o.sha256 for o in later.orphans] == [orphan]
            assert later.orphans[0].size == len(orphan_bytes)
            assert later.orphan_grace == DEFAULT_ORPHAN_GRACE_SECONDS
            assert orphan not in stored() and purged(named) <= stored()
            assert picture_served(server, technician, named)
    finally:
        client.close()


# ---------------------------------------------------------------- the command's refusals
def test_the_command_refuses_a_short_grace_and_a_password_in_the_database_location(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    short = server.cli("retention", "--orphan-grace", "5", check=False)
    assert short.returncode == 2 and "10 minutes" in short.stderr
    secret = "not-in-any-output"
    password = server.cli("retention", "--database", f"postgresql://desk:{secret}@127.0.0.1:1/tickets", check=False)
    assert password.returncode == 5 and "must not carry a password" in password.stderr
    assert secret not in password.stderr + password.stdout
