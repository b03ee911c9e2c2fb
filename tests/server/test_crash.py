"""SIGKILL the server in the middle of a stream of uploads: nothing is lost, nothing is half made."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator

import pytest
import requests

from agent.bundle import ReportBundle
from tests.fixtures.server import ServerProcess
from tests.server.helpers import Upload, api, make_bundle, noisy_png, sha256

UPLOADS = 100
CHUNK = 32 * 1024


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


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20240501, 7, 1234])
def test_sigkill_during_uploads_leaves_whole_tickets_or_none(server_process: ServerProcess, seed: int) -> None:
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
    integrity = sqlite3.connect(f"file:{server_process.db_path}?mode=ro", uri=True)
    try:
        assert integrity.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        integrity.close()
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
