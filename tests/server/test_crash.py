"""SIGKILL the server in the middle of a stream of uploads: nothing is lost, nothing is half made.

The crash rules are shown on both back ends: the embedded default (SQLite and the blob
directory) and the scale-out one (PostgreSQL and an S3-compatible store, moto's server on
loopback). On each: every report is absent (and goes through when retried) or whole, every
file is sha256-equal to what was sent, and no row names a missing ticket, file or object.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from agent.bundle import ReportBundle
from tests.fixtures.server import ServerProcess
from tests.server.helpers import Upload, api, make_bundle, noisy_png, query_database, sha256

UPLOADS = 100
CHUNK = 32 * 1024
BACK_ENDS = ("sqlite-files", "postgresql-s3")


class Uploader(threading.Thread):
    """Sends the reports one after another, streaming each body in chunks.

    When it reaches the chosen report and chunk it sets ``at_kill_point`` and goes on
    sending; the test kills the server on that event. The first failure ends the run.
    """

    def __init__(self, server: ServerProcess, token: str, uploads: list[Upload], kill_upload: int, kill_chunk: int):
        super().__init__(daemon=True)
        self.server = server
        self.token = token
        self.uploads = uploads
        self.kill_upload = kill_upload
        self.kill_chunk = kill_chunk
        self.at_kill_point = threading.Event()
        self.confirmed: dict[str, str] = {}
        self.failed_at: int | None = None

    def _chunks(self, index: int, body: bytes) -> Iterator[bytes]:
        for number, start in enumerate(range(0, len(body), CHUNK)):
            if index == self.kill_upload and number == self.kill_chunk:
                self.at_kill_point.set()
            yield body[start : start + CHUNK]
        if index == self.kill_upload:
            self.at_kill_point.set()  # the kill point is "whole body sent, server at work"

    def run(self) -> None:
        with requests.Session() as session:
            for index, upload in enumerate(self.uploads):
                body, content_type = upload.encode()
                try:
                    response = session.post(
                        f"{self.server.api}/reports",
                        data=self._chunks(index, body),
                        headers={
                            **self.server.auth(self.token),
                            "Content-Type": content_type,
                            "Idempotency-Key": upload.report_id,
                        },
                        timeout=30,
                    )
                    response.raise_for_status()
                except requests.RequestException:
                    self.failed_at = index
                    self.at_kill_point.set()
                    return
                self.confirmed[upload.report_id] = response.json()["ticket"]["number"]


def _bundles(rng: random.Random) -> list[ReportBundle]:
    bundles = []
    for index in range(UPLOADS):
        # Mostly small screenshots, some of ~200 kB so bodies span several chunks.
        big = rng.random() < 0.3
        picture = noisy_png(260, 260, seed=index) if big else noisy_png(40, 30, seed=index)
        bundles.append(make_bundle(index, images=[picture], sysinfo={"n": index}))
    return bundles


class CrashServer:
    """A server on one back end, with a look at its stored objects from outside the server."""

    def __init__(self, server: ServerProcess, stored_digests: Callable[[], set[str]]) -> None:
        self.server = server
        self.stored_digests = stored_digests


def _local_digests(server: ServerProcess) -> set[str]:
    return {path.name for path in server.blobs_dir.glob("*/*") if path.is_file()}


@pytest.fixture(params=BACK_ENDS)
def crash_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CrashServer]:
    data_dir = tmp_path / "server-data"
    if request.param == "sqlite-files":
        server = ServerProcess(data_dir)
        made = CrashServer(server, lambda: _local_digests(server))
    else:
        from tests.server.test_server_s3 import bucket_keys  # boto3: only where the S3 stand-in runs

        cluster = request.getfixturevalue("postgres_server")
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket("crash")
        server = ServerProcess(
            data_dir,
            database=cluster.database_url(cluster.new_database("crash")),
            extra_args=["--blobs", f"s3://{bucket}/files?endpoint={s3.url}"],
            env=s3.environment(),
        )
        made = CrashServer(server, lambda: {key.rsplit("/", 1)[-1] for key in bucket_keys(s3, bucket)})
    try:
        server.start()
        yield made
    finally:
        server.stop()


def _assert_no_orphan_rows(server: ServerProcess) -> None:
    """Every file and event names a ticket; every ticket has its files and its first event."""
    if not server.database:
        integrity = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
        try:
            assert integrity.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            integrity.close()
    for statement in (
        "SELECT count(*) FROM files f WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.seq = f.ticket_seq)",
        "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.seq = e.ticket_seq)",
        "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.ticket_seq = t.seq)",
        "SELECT count(*) FROM tickets t WHERE NOT EXISTS "
        "(SELECT 1 FROM events e WHERE e.ticket_seq = t.seq AND e.kind = 'created')",
    ):
        assert query_database(server, statement)[0][0] == 0, statement


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20240501, 7, 1234])
def test_sigkill_during_uploads_leaves_whole_tickets_or_none(crash_server: CrashServer, seed: int) -> None:
    server_process = crash_server.server
    rng = random.Random(seed)
    token = server_process.token("submitter")
    bundles = _bundles(rng)
    uploads = [Upload.of(b) for b in bundles]
    kill_upload = rng.randrange(10, UPLOADS - 10)
    kill_chunk = rng.randrange(0, 8)  # past the last chunk means "after the body"
    uploader = Uploader(server_process, token, uploads, kill_upload, kill_chunk)

    uploader.start()
    assert uploader.at_kill_point.wait(120), "the uploader never reached the kill point"
    server_process.kill()
    uploader.join(60)
    assert not uploader.is_alive()
    assert uploader.failed_at is not None, "the kill did not interrupt the uploads"

    server_process.start()
    technician = server_process.token("technician")
    _assert_no_orphan_rows(server_process)
    # No row names a file whose bytes are not stored (a crash between the write and the commit
    # may leave bytes no row names; the retries below name them all).
    named_after_crash = {str(row[0]) for row in query_database(server_process, "SELECT DISTINCT sha256 FROM files")}
    assert named_after_crash <= crash_server.stored_digests()
    assert not any((server_process.data_dir / "tmp").iterdir()), "unfinished uploads were not cleared"

    # Every report is either absent or complete, with files equal to what was sent.
    present = set()
    for bundle in bundles:
        response = api(server_process, technician, "GET", f"/tickets/{bundle.report.id}")
        if response.status_code == 404:
            assert str(bundle.report.id) not in uploader.confirmed, "a confirmed ticket was lost"
            continue
        assert response.status_code == 200
        present.add(str(bundle.report.id))
        detail = response.json()
        assert detail["report"] == json.loads(bundle.report.canonical_json())  # the manifest as stored
        for ref in bundle.report.files():
            download = api(server_process, technician, "GET", f"/tickets/{detail['id']}/files/{ref.path}")
            assert download.status_code == 200
            assert sha256(download.content) == ref.sha256
    assert set(uploader.confirmed) <= present

    # The client retries everything not confirmed, with the same keys; all go through exactly once.
    for upload in uploads:
        if upload.report_id in uploader.confirmed:
            continue
        body, content_type = upload.encode()
        retry = requests.post(
            f"{server_process.api}/reports",
            data=body,
            headers={**server_process.auth(token), "Content-Type": content_type, "Idempotency-Key": upload.report_id},
            timeout=30,
        )
        assert retry.status_code == (200 if upload.report_id in present else 201), retry.text
    listed: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = api(server_process, technician, "GET", "/tickets", params=params).json()
        listed.extend(t["id"] for t in page["tickets"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(listed) == sorted(str(b.report.id) for b in bundles)

    # After the retries: no orphan rows, and the stored objects are exactly the files sent.
    _assert_no_orphan_rows(server_process)
    sent = {sha256(data) for bundle in bundles for data in bundle.files.values()}
    named = {str(row[0]) for row in query_database(server_process, "SELECT DISTINCT sha256 FROM files")}
    assert named == sent
    assert crash_server.stored_digests() == sent, "objects no row names, or rows without their object"
